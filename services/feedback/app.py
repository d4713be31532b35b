"""The feedback service: surveys, feedback from every channel, and complaints with service levels (port 8002)."""

from pathlib import Path

from fastapi import FastAPI

from services.common.bootstrap import resolve_secrets
from services.common.context import ServiceContext
from services.common.jobs import JobSpec
from services.common.service_app import Platform, ServiceSpec, build_service_app
from services.feedback import api, consumers, points_ledger
from services.feedback.context import FeedbackContext
from services.feedback.settings import FeedbackSettings


def make_context(base: ServiceContext) -> FeedbackContext:
    return base.extended(FeedbackContext, link_key=resolve_secrets(base.settings).hash_key.encode())


SPEC = ServiceSpec(
    name="feedback",
    title="Customer Pulse — feedback",
    description="Surveys (NPS, CSAT, CES), feedback from every channel, points for answering, and complaints with service levels.",
    routers=[api.router],
    migrations=Path(__file__).parent / "migrations",
    settings_class=FeedbackSettings,
    handlers=consumers.HANDLERS,
    timers=consumers.TIMERS,
    jobs=[JobSpec("points.expire", every_seconds=3600, run=points_ledger.expire_all_due)],
    make_context=make_context,
)


def create_app(platform: Platform) -> FastAPI:
    return build_service_app(SPEC, platform)
