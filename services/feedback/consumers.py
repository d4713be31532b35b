"""What the feedback service does when an event arrives or one of its timers is due."""

from services.common.consumers import EventHandler
from services.common.timers import TimerHandler

HANDLERS: dict[str, EventHandler] = {}

TIMERS: dict[str, TimerHandler] = {}
