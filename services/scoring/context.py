"""What the scoring service's functions need besides a session, built once in the app's lifespan."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from services.common.catalog import EventPayload, topic_of
from services.common.database import Database
from services.common.events import Envelope, envelope_for
from services.common.timeutil import utcnow
from services.scoring.scores.scorecard import Calibration
from services.scoring.scores.standard import EvaluationStandard
from services.scoring.settings import ScoringSettings

SOURCE = "/pulse/scoring"


@dataclass
class ScoringContext:
    settings: ScoringSettings
    database: Database
    calibration: Calibration
    standard: EvaluationStandard
    now: Callable[[], datetime] = utcnow

    def event(self, payload: EventPayload, *, backfill: bool = False) -> tuple[Envelope, str]:
        """The payload as an outbox entry: its envelope from this service, and its topic."""
        return envelope_for(payload, source=SOURCE, backfill=backfill), topic_of(payload.event_type, self.settings.topics)


@dataclass(frozen=True)
class Delivery:
    """One event for a handler: the transaction it is applied in, its envelope, the service's context."""

    session: object
    envelope: Envelope
    context: ScoringContext

    @property
    def backfill(self) -> bool:
        return self.envelope.backfill
