"""The scoring service (port 8003): every customer's value, loyalty, health, tier and stage, live."""

from pathlib import Path

from fastapi import FastAPI

from services.common.context import ServiceContext
from services.common.jobs import AdvisoryLock, JobSpec
from services.common.service_app import Platform, ServiceSpec, build_service_app
from services.scoring import api
from services.scoring.batches import ScoringBatch
from services.scoring.calibrations import refit_when_due, refresh_in_use
from services.scoring.consumers import HANDLERS, TIMERS
from services.scoring.context import InUse, ScoringContext
from services.scoring.in_use import default_standard, priors_calibration
from services.scoring.settings import ScoringSettings

# How soon an instance notices a refit or a new standard that another instance stored.
REFRESH_SECONDS = 10.0
# How often the leader looks whether a refit is due (PULSE_SCORING_REFIT_INTERVAL_SECONDS says when).
REFIT_CHECK_SECONDS = 60.0


def make_context(base: ServiceContext) -> ScoringContext:
    settings = base.settings
    # Until the stored ones are read (by the first handler or job): the priors and the default standard.
    in_use = InUse(calibration=priors_calibration(settings), standard=default_standard(settings))
    return base.extended(ScoringContext, in_use=in_use, refit_lock=AdvisoryLock(base.database, "scoring:refit"))


SPEC = ServiceSpec(
    name="scoring",
    title="Customer Pulse — scoring",
    description="Customer value (RFM, CLV), loyalty, health, value tier and lifecycle stage.",
    routers=[api.router],
    migrations=Path(__file__).parent / "migrations",
    settings_class=ScoringSettings,
    handlers=HANDLERS,
    batch=ScoringBatch,
    timers=TIMERS,
    jobs=[
        JobSpec("refit", every_seconds=REFIT_CHECK_SECONDS, run=refit_when_due, run_at_start=True),
        JobSpec("refresh", every_seconds=REFRESH_SECONDS, run=refresh_in_use, leader_only=False, run_at_start=True),
    ],
    make_context=make_context,
)


def create_app(platform: Platform) -> FastAPI:
    return build_service_app(SPEC, platform)
