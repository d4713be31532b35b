"""What the feedback service's functions need besides a session, built once when the app is made."""

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime

from services.common.context import ServiceContext
from services.feedback.complaints.sla_state import SlaContext
from services.feedback.settings import FeedbackSettings


@dataclass(frozen=True)
class FeedbackContext(ServiceContext):
    settings: FeedbackSettings
    link_key: bytes = b""  # signs survey response tokens, so a link can be shown again without storing it
    # Parsed calendars and policies by the versions in force: parsing and the calendars' year
    # timelines are built once per version, not per request.
    sla_versions: dict[tuple, SlaContext] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.clock.now()

    def response_token(self, invitation_id: str) -> str:
        # The key also serves other lookups; the prefix keeps this use of it apart.
        return hmac.new(self.link_key, b"survey-link:" + invitation_id.encode(), hashlib.sha256).hexdigest()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
