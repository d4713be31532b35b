"""What the alerts functions need besides a session, built once when the app is made."""

from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.metrics import AlertsMetrics
from services.alerts.settings import AlertsSettings
from services.common.catalog import EventPayload, topic_of
from services.common.events import Envelope, envelope_for
from services.common.privacy import FieldCipher
from services.common.timers import DueTimer
from services.common.timeutil import utcnow

SOURCE = "/pulse/alerts"


class SystemClock:
    def now(self):
        return utcnow()


@dataclass
class AlertsContext:
    settings: AlertsSettings
    cipher: FieldCipher
    metrics: AlertsMetrics
    clock: object = SystemClock()

    def event(self, payload: EventPayload) -> tuple[Envelope, str]:
        return envelope_for(payload, source=SOURCE), topic_of(payload.event_type, self.settings.topics)


C = TypeVar("C")


@dataclass
class Delivery(Generic[C]):
    """One event handed to a handler (the shape of services/common's, until that lands)."""

    session: AsyncSession
    envelope: Envelope
    context: C

    @property
    def backfill(self) -> bool:
        return self.envelope.backfill


@dataclass
class TimerDelivery(Generic[C]):
    session: AsyncSession
    timer: DueTimer
    context: C
