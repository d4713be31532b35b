"""The feedback service: surveys, feedback from every channel, and complaints with service levels (port 8002)."""

import secrets
from pathlib import Path

from fastapi import FastAPI

from services.common.context import ServiceContext
from services.common.jobs import JobSpec
from services.common.service_app import Platform, ServiceSpec, build_service_app
from services.common.service_keys import own_keys
from services.feedback import api, consumers, points_ledger
from services.feedback.context import FeedbackContext
from services.feedback.settings import FeedbackSettings


def make_context(base: ServiceContext) -> FeedbackContext:
    # The service's own key: the profiles keys stay in profiles.
    [link_key, *_] = own_keys(base.settings, configured=base.settings.survey_link_key, variable="PULSE_SURVEY_LINK_KEY",
                              file_name="feedback-secrets.json", make=lambda: secrets.token_hex(32))
    return base.extended(FeedbackContext, link_key=link_key.encode())


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
