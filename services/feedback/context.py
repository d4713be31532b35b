"""What the feedback service's functions need besides a session, built once when the app is made."""

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from services.common.catalog import EventPayload, topic_of
from services.common.events import Envelope, envelope_for
from services.common.timeutil import utcnow
from services.feedback.complaints.sla_state import SlaContext
from services.feedback.settings import FeedbackSettings

SOURCE = "/pulse/feedback"


class Clock(Protocol):
    """Where every "now" of the service comes from, so that tests can move time."""

    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return utcnow()


@dataclass
class FeedbackContext:
    settings: FeedbackSettings
    clock: Clock
    link_key: bytes  # signs survey response tokens, so a link can be shown again without storing it
    # Parsed calendars and policies by the versions in force: parsing and the calendars' year
    # timelines are built once per version, not per request.
    sla_versions: dict[tuple, SlaContext] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.clock.now()

    def event(self, payload: EventPayload) -> tuple[Envelope, str]:
        return envelope_for(payload, source=SOURCE), topic_of(payload.event_type, self.settings.topics)

    def response_token(self, invitation_id: str) -> str:
        return hmac.new(self.link_key, invitation_id.encode(), hashlib.sha256).hexdigest()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
