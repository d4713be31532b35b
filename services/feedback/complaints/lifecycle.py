"""The complaint lifecycle: its states and the transitions allowed between them, as data."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

OPEN = "open"
ACKNOWLEDGED = "acknowledged"
IN_PROGRESS = "in_progress"
WAITING_ON_CUSTOMER = "waiting_on_customer"
WAITING_ON_THIRD_PARTY = "waiting_on_third_party"
RESOLVED = "resolved"
CLOSED = "closed"

STATES = (OPEN, ACKNOWLEDGED, IN_PROGRESS, WAITING_ON_CUSTOMER, WAITING_ON_THIRD_PARTY, RESOLVED, CLOSED)
UNRESOLVED = (OPEN, ACKNOWLEDGED, IN_PROGRESS, WAITING_ON_CUSTOMER, WAITING_ON_THIRD_PARTY)

# (state, action) -> next state. Closed is final: a later message opens a new, linked complaint.
TRANSITIONS: dict[tuple[str, str], str] = {
    (OPEN, "acknowledge"): ACKNOWLEDGED,
    (ACKNOWLEDGED, "start"): IN_PROGRESS,
    (IN_PROGRESS, "wait_on_customer"): WAITING_ON_CUSTOMER,
    (IN_PROGRESS, "wait_on_third_party"): WAITING_ON_THIRD_PARTY,
    (WAITING_ON_CUSTOMER, "resume"): IN_PROGRESS,
    (WAITING_ON_THIRD_PARTY, "resume"): IN_PROGRESS,
    **{(state, "resolve"): RESOLVED for state in UNRESOLVED},
    (RESOLVED, "reopen"): IN_PROGRESS,
    (RESOLVED, "close"): CLOSED,
}


class IllegalTransition(ValueError):
    """An action the complaint's current state does not allow (the API answers 409)."""

    def __init__(self, state: str, action: str) -> None:
        self.state = state
        self.action = action
        self.allowed = allowed_actions(state)
        listed = ", ".join(f"{a} -> {TRANSITIONS[(state, a)]}" for a in self.allowed) or "none (final state)"
        super().__init__(f"cannot {action} a complaint that is {state}; allowed from {state}: {listed}")


def auto_close_at(resolved_at: datetime, *, after_days: int) -> datetime:
    """When a complaint left resolved is closed without anyone closing it."""
    if resolved_at.tzinfo is None:
        raise ValueError("resolved_at must be time-zone aware")
    return resolved_at.astimezone(timezone.utc) + timedelta(days=after_days)


def allowed_actions(state: str) -> tuple[str, ...]:
    return tuple(action for (source, action) in TRANSITIONS if source == state)


def next_state(state: str, action: str) -> str:
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise IllegalTransition(state, action) from None
