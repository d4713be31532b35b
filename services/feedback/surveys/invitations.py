"""Sending surveys and answering them: the per-customer throttle, link expiry, and the CSAT
invitation that follows a resolved complaint."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def may_invite(last_sent_at: datetime | None, now: datetime, *, throttle_days: int = 30) -> Decision:
    """The fatigue rule: no new invitation within `throttle_days` of the customer's last send."""
    if last_sent_at is None:
        return Decision(True, "no earlier invitation")
    next_allowed = _utc(last_sent_at) + timedelta(days=throttle_days)
    if _utc(now) < next_allowed:
        return Decision(False, f"throttled: last invitation sent {last_sent_at.isoformat()}, next allowed {next_allowed.isoformat()}")
    return Decision(True, f"last invitation is older than {throttle_days} days")


def csat_invitation_at(resolved_at: datetime, *, delay: timedelta = timedelta(hours=24), without_survey: bool = False):
    """When the CSAT invitation for a resolved complaint goes out; None for "resolve without survey"."""
    return None if without_survey else _utc(resolved_at) + delay


def may_send_csat(send_at: datetime, reopened_at: datetime | None) -> Decision:
    """A pending CSAT invitation is cancelled when its complaint was reopened before it went out."""
    if reopened_at is not None and _utc(reopened_at) < _utc(send_at):
        return Decision(False, f"cancelled: the complaint was reopened at {reopened_at.isoformat()}, before the invitation")
    return Decision(True, "the complaint stayed resolved until the invitation")


def may_answer(sent_at: datetime, now: datetime, *, expiry_days: int = 14) -> Decision:
    """A survey link is usable until `expiry_days` after it was sent."""
    expires_at = _utc(sent_at) + timedelta(days=expiry_days)
    if _utc(now) >= expires_at:
        return Decision(False, f"link expired at {expires_at.isoformat()}")
    return Decision(True, f"link valid until {expires_at.isoformat()}")


def _utc(moment: datetime) -> datetime:
    # Elapsed days, not wall-clock days, whatever zone the moments were given in.
    return moment.astimezone(timezone.utc)
