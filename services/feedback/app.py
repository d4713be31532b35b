"""The feedback service: surveys, feedback from every channel, and complaints with service levels (port 8002)."""

from pathlib import Path

from fastapi import FastAPI

from services.common.service_app import Platform, ServiceSpec, build_service_app
from services.feedback import api, consumers
from services.feedback.context import Clock, FeedbackContext, SystemClock
from services.feedback.settings import FeedbackSettings

TITLE = "Customer Pulse — feedback"
DESCRIPTION = "Surveys (NPS, CSAT, CES), feedback from every channel, points for answering, and complaints with service levels."
MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(platform: Platform, *, clock: Clock | None = None, settings: FeedbackSettings | None = None) -> FastAPI:
    settings = settings or FeedbackSettings.model_validate(platform.settings.model_dump())
    context = FeedbackContext(settings=settings, clock=clock or SystemClock(), link_key=platform.secrets.hash_key.encode())
    spec = ServiceSpec(
        name="feedback", title=TITLE, description=DESCRIPTION, routers=[api.router], migrations=MIGRATIONS,
        event_handlers=consumers.event_handlers(context), timer_handlers=consumers.timer_handlers(context), now=context.now,
    )
    app = build_service_app(spec, platform)
    app.state.feedback = context
    return app
