"""What the feedback service does when an event arrives or one of its timers is due."""

from services.feedback.context import FeedbackContext


def event_handlers(ctx: FeedbackContext) -> dict:
    return {}


def timer_handlers(ctx: FeedbackContext) -> dict:
    return {}
