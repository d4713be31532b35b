"""What the scoring service's handlers, timers, jobs and routes are given besides a session."""

from dataclasses import dataclass
from datetime import datetime

from services.common.context import ServiceContext
from services.common.jobs import AdvisoryLock
from services.scoring.scores.scorecard import Calibration
from services.scoring.scores.standard import EvaluationStandard
from services.scoring.settings import ScoringSettings


@dataclass
class InUse:
    """The calibration and the evaluation standard customers are scored with now; replaced by a
    refit or a new standard, and reloaded by every instance when another one replaced them."""

    calibration: Calibration
    standard: EvaluationStandard
    loaded: bool = False  # False until read from the database (the first handler or job does it)


@dataclass(frozen=True)
class ScoringContext(ServiceContext):
    in_use: InUse
    refit_lock: AdvisoryLock  # one refit at a time, scheduled or asked for, across instances

    @property
    def scoring_settings(self) -> ScoringSettings:
        return self.settings  # type: ignore[return-value]  # built from ScoringSettings (app.SPEC)

    def now(self) -> datetime:
        return self.clock.now()
