"""A complaint's SLA state and the pure function that applies one event to it.

The feedback service stores `ComplaintSla.to_dict()` and publishes `event_payload()` with every
complaint event, so the alerts service can schedule its timers without calling back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import orjson

from services.feedback.complaints import lifecycle
from services.feedback.sla import clocks as sla_clocks
from services.feedback.sla.calendars import BusinessCalendar, to_epoch_us
from services.feedback.sla.frozen import evolve
from services.feedback.sla.clocks import MetricClock
from services.feedback.sla.policies import ComplaintAttributes, Policy, PolicySet

PAUSE_STATES = {lifecycle.WAITING_ON_CUSTOMER: True, lifecycle.WAITING_ON_THIRD_PARTY: False}
# A redelivered event arrives soon after the first delivery, so the ids of the latest events are
# enough to recognise it; keeping every id made the stored state grow with each change.
RECENT_EVENT_IDS = 50


@dataclass(frozen=True)
class SlaContext:
    """The policy set and calendars in force; a new version of either makes a new context."""

    policies: PolicySet
    calendars: Mapping[str, BusinessCalendar]

    def calendar(self, clock: MetricClock) -> BusinessCalendar:
        return self.calendars[clock.calendar]


# --- events, as the feedback service records them -----------------------------------------------


@dataclass(frozen=True)
class ComplaintOpened:
    event_id: str
    at: datetime
    complaint_id: str
    attributes: ComplaintAttributes = ComplaintAttributes()


@dataclass(frozen=True)
class StatusChanged:
    event_id: str
    at: datetime
    action: str  # a lifecycle action: acknowledge, start, wait_on_customer, resolve, reopen, ...


@dataclass(frozen=True)
class AgentReplied:
    event_id: str
    at: datetime
    public: bool = True  # internal notes are not responses
    automated: bool = False  # nor are auto-replies


@dataclass(frozen=True)
class CustomerMessaged:
    event_id: str
    at: datetime


@dataclass(frozen=True)
class AttributesChanged:
    event_id: str
    at: datetime
    attributes: ComplaintAttributes


@dataclass(frozen=True)
class ComplaintSla:
    complaint_id: str
    status: str
    attributes: ComplaintAttributes
    policy_id: str
    policy_version: int
    clocks: tuple[MetricClock, ...]
    last_event_at: datetime
    reopen_count: int = 0
    recent_event_ids: tuple[str, ...] = ()  # the latest RECENT_EVENT_IDS applied, oldest first
    applied_events: int = 0  # how many events made this state (a sequence; it only grows)

    def clock(self, metric: str) -> MetricClock | None:
        return next((c for c in self.clocks if c.metric == metric), None)

    def metric_snapshots(self) -> list[dict]:
        """Per metric what every complaint event carries for the alerts service (the published
        contract's list of SlaMetricSnapshot, one entry per metric instance)."""
        return [
            {
                "metric": c.metric,
                "instance": c.instance,
                "state": c.state,
                "breached": c.breached,
                "due_at": _iso(c.due_at),
                "original_due_at": _iso(c.original_due_at),
                "consumed_seconds": c.consumed_seconds,
                "target_seconds": c.target_seconds,
            }
            for c in self.clocks
        ]

    def to_dict(self) -> dict:
        return {
            "complaint_id": self.complaint_id,
            "status": self.status,
            "attributes": self.attributes.to_dict(),
            "policy_id": self.policy_id,
            "policy_version": self.policy_version,
            "clocks": [c.to_dict() for c in self.clocks],
            "last_event_at": self.last_event_at.isoformat(),
            "reopen_count": self.reopen_count,
            "recent_event_ids": list(self.recent_event_ids),
            "applied_events": self.applied_events,
        }

    def to_json(self) -> bytes:
        """to_dict() as JSON text: orjson writes the datetimes as isoformat() does, without making
        the strings first (a new calendar version stores every open complaint's state again)."""
        return orjson.dumps({
            **self.__dict__,
            "attributes": self.attributes.to_dict(),
            "clocks": [c.fields() for c in self.clocks],
            "recent_event_ids": list(self.recent_event_ids),
        })

    @classmethod
    def from_dict(cls, d: dict) -> ComplaintSla:
        sla = object.__new__(cls)  # every field is given: the frozen __init__ would only set them one by one
        sla.__dict__.update(
            complaint_id=d["complaint_id"],
            status=d["status"],
            attributes=ComplaintAttributes.from_dict(d["attributes"]),
            policy_id=d["policy_id"],
            policy_version=d["policy_version"],
            clocks=tuple(MetricClock.from_dict(c) for c in d["clocks"]),
            last_event_at=datetime.fromisoformat(d["last_event_at"]),
            reopen_count=d["reopen_count"],
            **_applied(d),
        )
        return sla


def _applied(d: dict) -> dict:
    if "applied_events" in d:
        return {"recent_event_ids": tuple(d["recent_event_ids"]), "applied_events": d["applied_events"]}
    # A state stored before the bound kept every id, sorted: ids are UUIDv7, so the last are the latest.
    every = d["applied_event_ids"]
    return {"recent_event_ids": tuple(every[-RECENT_EVENT_IDS:]), "applied_events": len(every)}


def event_payload(sla: ComplaintSla, context: SlaContext) -> list[dict]:
    """Per metric what a complaint event carries, with the warning moments still ahead, so the
    alerts service can set every timer (and catch up after a restart) without calling back."""
    policy = _policy(sla, context)
    payload = sla.metric_snapshots()
    for clock, snapshot in zip(sla.clocks, payload):
        target = policy.target(clock.metric, sla.attributes.priority)
        thresholds = [w.consumed_at_warning(clock.target_seconds) for w in target.warnings] if target else []
        moments = sla_clocks.warning_times(clock, thresholds, context.calendar(clock), sla.last_event_at)
        snapshot["warnings_at"] = [_iso(m) for m in moments]
    return payload


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


# --- applying events ----------------------------------------------------------------------------


def open_complaint(event: ComplaintOpened, context: SlaContext) -> ComplaintSla:
    event = replace(event, at=as_utc(event.at))
    attributes = context.policies.with_default_priority(event.attributes)
    policy = context.policies.match(attributes)
    clocks = tuple(
        sla_clocks.start_clock(metric, target.seconds, context.calendars[target.calendar], event.at)
        for metric in ("first_response", "resolution")
        if (target := policy.target(metric, attributes.priority)) is not None
    )
    return ComplaintSla(
        complaint_id=event.complaint_id,
        status=lifecycle.OPEN,
        attributes=attributes,
        policy_id=policy.id,
        policy_version=policy.version,
        clocks=clocks,
        last_event_at=event.at,
        recent_event_ids=(event.event_id,),
        applied_events=1,
    )


def apply_event(sla: ComplaintSla, event, context: SlaContext) -> ComplaintSla:
    """Apply one event. A repeat of one of the latest RECENT_EVENT_IDS events changes nothing; a
    late event counts at the latest time already applied, so clocks never run backwards."""
    if event.event_id in sla.recent_event_ids:
        return sla
    at = max(as_utc(event.at), sla.last_event_at)
    sla = observe(sla, at)
    sla = _HANDLERS[type(event)](sla, event, context, at)
    recent = (*sla.recent_event_ids, event.event_id)[-RECENT_EVENT_IDS:]
    return replace(sla, last_event_at=at, recent_event_ids=recent, applied_events=sla.applied_events + 1)


def observe(sla: ComplaintSla, at: datetime) -> ComplaintSla:
    """Flag every running clock that is past due at `at`."""
    return replace(sla, clocks=tuple(sla_clocks.observe(c, as_utc(at)) for c in sla.clocks))


def as_utc(moment: datetime) -> datetime:
    """Stored instants are UTC: they compare and convert cheaply and never hit a DST fold."""
    to_epoch_us(moment)  # refuses a naive time
    return moment.astimezone(timezone.utc)


def _on_status_changed(sla: ComplaintSla, event: StatusChanged, context: SlaContext, at: datetime):
    status = lifecycle.next_state(sla.status, event.action)
    policy = _policy(sla, context)
    clocks = sla.clocks
    if event.action == "resolve":
        clocks = _map(clocks, context, at, _settled_by_resolve)
    elif event.action == "reopen":
        clocks = _map(clocks, context, at, _resumed_by_reopen)
        sla = replace(sla, reopen_count=sla.reopen_count + 1)
    else:
        clocks = _paused_as_status_says(clocks, status, policy, context, at)
    return replace(sla, status=status, clocks=clocks)


def _paused_as_status_says(clocks, status: str, policy: Policy, context: SlaContext, at: datetime):
    """Pause resolution in a waiting state the policy pauses in, and resume it everywhere else."""
    if status in (lifecycle.RESOLVED, lifecycle.CLOSED):
        return clocks
    change = sla_clocks.pause if _pauses_resolution(status, policy) else _resume_paused
    return _map(clocks, context, at, _only("resolution", change))


def _pauses_resolution(status: str, policy: Policy) -> bool:
    if status not in PAUSE_STATES:
        return False
    return PAUSE_STATES[status] or policy.pause_on_third_party


def _settled_by_resolve(clock: MetricClock, calendar: BusinessCalendar, at: datetime) -> MetricClock:
    # Resolving reports the outcome to the customer, so it answers them too; an unanswered
    # follow-up is cancelled rather than missed, so no timer runs on after resolve.
    if clock.metric == "next_response":
        return sla_clocks.cancel(clock, calendar, at)
    return sla_clocks.fulfil(clock, calendar, at)


def _resumed_by_reopen(clock: MetricClock, calendar: BusinessCalendar, at: datetime) -> MetricClock:
    # first_response stays fulfilled; resolution resumes with its time spent resolved as paused.
    if clock.metric == "resolution":
        return sla_clocks.resume(clock, calendar, at)
    return clock


def _resume_paused(clock: MetricClock, calendar: BusinessCalendar, at: datetime) -> MetricClock:
    if clock.state != sla_clocks.PAUSED:
        return clock
    return sla_clocks.resume(clock, calendar, at)


def _on_agent_replied(sla: ComplaintSla, event: AgentReplied, context: SlaContext, at: datetime):
    if not event.public or event.automated:
        return sla
    responses = ("first_response", "next_response")
    clocks = _map(sla.clocks, context, at, lambda c, cal, t: sla_clocks.fulfil(c, cal, t) if c.metric in responses else c)
    return replace(sla, clocks=clocks)


def _on_customer_messaged(sla: ComplaintSla, event: CustomerMessaged, context: SlaContext, at: datetime):
    """A customer message starts a next_response instance unless one is already waiting."""
    first = sla.clock("first_response")
    waiting = sla.clock("next_response")
    if sla.status not in lifecycle.UNRESOLVED or first is None or first.state == sla_clocks.RUNNING:
        return sla
    if waiting is not None and waiting.state == sla_clocks.RUNNING:
        return sla  # the oldest unanswered message keeps the clock
    target = _policy(sla, context).target("next_response", sla.attributes.priority)
    if target is None:
        return sla
    instance = 1 if waiting is None else waiting.instance + 1
    clock = sla_clocks.start_clock("next_response", target.seconds, context.calendars[target.calendar], at, instance)
    others = tuple(c for c in sla.clocks if c.metric != "next_response")
    return replace(sla, clocks=(*others, clock))


def _on_attributes_changed(sla: ComplaintSla, event: AttributesChanged, context: SlaContext, at: datetime):
    attributes = context.policies.with_default_priority(event.attributes)
    return rematch(replace(sla, attributes=attributes), context, context, at)


def rematch(sla: ComplaintSla, old: SlaContext, new: SlaContext, at: datetime) -> ComplaintSla:
    """Re-apply the matching policy's targets and calendars, consumed time and pauses kept.

    Used on every complaint change and when a new calendar or policy version comes into force.
    """
    policy = new.policies.match(sla.attributes)
    at = as_utc(at)
    clocks = tuple(_retargeted(c, policy, sla.attributes.priority, old, new, at) for c in sla.clocks)
    # The new policy may pause, or stop pausing, in the waiting state the complaint is in.
    clocks = _paused_as_status_says(clocks, sla.status, policy, new, at)
    return replace(sla, policy_id=policy.id, policy_version=policy.version, clocks=clocks)


def _retargeted(clock, policy, priority, old: SlaContext, new: SlaContext, at: datetime) -> MetricClock:
    target = policy.target(clock.metric, priority)
    if target is None:
        return sla_clocks.cancel(clock, old.calendar(clock), at)
    calendar = new.calendars[target.calendar]
    moved = sla_clocks.recompute(clock, old.calendar(clock), calendar, at)
    if moved.target_seconds == target.seconds:
        return moved
    return sla_clocks.retarget(moved, target.seconds, calendar, at)


def _policy(sla: ComplaintSla, context: SlaContext) -> Policy:
    return context.policies.match(sla.attributes)


def _only(metric: str, change):
    return lambda clock, calendar, at: change(clock, calendar, at) if clock.metric == metric else clock


def _map(clocks, context: SlaContext, at: datetime, change) -> tuple[MetricClock, ...]:
    return tuple(change(c, context.calendar(c), at) for c in clocks)


_HANDLERS = {
    StatusChanged: _on_status_changed,
    AgentReplied: _on_agent_replied,
    CustomerMessaged: _on_customer_messaged,
    AttributesChanged: _on_attributes_changed,
}


def recompute_for_calendar(
    slas: list[ComplaintSla], old: BusinessCalendar, new: BusinessCalendar, at: datetime
) -> list[ComplaintSla]:
    """Move every open clock on `old` to its new version `new`, consumed time kept, in one batch."""
    places = [(n, m) for n, sla in enumerate(slas) for m, clock in enumerate(sla.clocks) if clock.calendar == old.name]
    moved = sla_clocks.recompute_many([slas[n].clocks[m] for n, m in places], old, new, as_utc(at))
    clocks = {n: list(slas[n].clocks) for n, _ in places}
    for (n, m), clock in zip(places, moved):
        clocks[n][m] = clock
    return [evolve(sla, clocks=tuple(clocks[n])) if n in clocks else sla for n, sla in enumerate(slas)]


def recompute_versions(
    slas: list[ComplaintSla], old: SlaContext, new: SlaContext, at: datetime, *, calendar: str | None
) -> list[ComplaintSla]:
    """Every complaint moved from the `old` versions to the `new`, consumed time kept: a changed
    calendar in one batch, a new policy set by re-matching each. An untouched state comes back as is."""
    if calendar is not None:
        return recompute_for_calendar(slas, old.calendars[calendar], new.calendars[calendar], at)
    return [rematch(sla, old, new, at) for sla in slas]


def deadlines_moved(before: ComplaintSla, after: ComplaintSla, old: SlaContext, new: SlaContext, at: datetime) -> bool:
    """Whether a recompute changed what the alerts service times by (deadlines, states, breaches,
    targets, policy, warning moments ahead); consumed time settled up to `at` alone does not count,
    nor does a deadline that passed before `at` (the alerts service has its timer for that)."""
    observed = [sla_clocks.observe(c, at) for c in before.clocks]
    if before.policy_id != after.policy_id or _deadlines(observed) != _deadlines(after.clocks):
        return True
    return _warnings_ahead(before, old, at) != _warnings_ahead(after, new, at)


def deadlines_moved_many(befores: list[ComplaintSla], afters: list[ComplaintSla], old: SlaContext, new: SlaContext,
                         at: datetime) -> tuple[list[bool], list[list[list[int]]]]:
    """deadlines_moved() for many complaints at once (the warning moments in one numpy call per
    calendar), and the new states' warning moments ahead (warnings_many) for their events."""
    at_us = to_epoch_us(at)
    after_warnings = warnings_many(afters, new)
    moved = [
        before.policy_id != after.policy_id or _deadlines([sla_clocks.observe(c, at) for c in before.clocks]) != _deadlines(after.clocks)
        for before, after in zip(befores, afters)
    ]
    # Only where no deadline moved do the warning moments ahead decide.
    undecided = [n for n, was_moved in enumerate(moved) if not was_moved]
    before_warnings = warnings_many([befores[n] for n in undecided], old)
    for n, warned in zip(undecided, before_warnings):
        moved[n] = _after(warned, at_us) != _after(after_warnings[n], at_us)
    return moved, after_warnings


def warnings_many(slas: list[ComplaintSla], context: SlaContext) -> list[list[list[int]]]:
    """Per complaint and clock, the epoch microseconds at which each warning threshold still ahead
    is reached (what event_payload() and deadlines_moved() ask warning_times() for, before their
    filter on time), one numpy call per calendar for all complaints."""
    thresholds_of: dict[tuple, list[float]] = {}  # many complaints share attributes, metric and target
    by_calendar: dict[str, list[tuple[int, int, MetricClock, list[float]]]] = {}
    for n, sla in enumerate(slas):
        for m, clock in enumerate(sla.clocks):
            attributes = sla.attributes  # its fields as the key: hashing the dataclass runs in Python
            key = (attributes.priority, attributes.tier, attributes.channel, attributes.category, clock.metric, clock.target_seconds)
            if key not in thresholds_of:
                target = _policy(sla, context).target(clock.metric, sla.attributes.priority)
                thresholds_of[key] = [w.consumed_at_warning(clock.target_seconds) for w in target.warnings] if target else []
            by_calendar.setdefault(clock.calendar, []).append((n, m, clock, thresholds_of[key]))
    found = [[[] for _ in sla.clocks] for sla in slas]
    for name, items in by_calendar.items():
        if not any(thresholds for *_, thresholds in items):
            continue
        moments = sla_clocks.warning_times_many([i[2] for i in items], [i[3] for i in items], context.calendars[name])
        for (n, m, _, _), ahead in zip(items, moments):
            found[n][m] = ahead
    return found


def _after(warnings: list[list[int]], after_us: int) -> list[list[int]]:
    return [[moment for moment in moments if moment > after_us] for moments in warnings]


def _deadlines(clocks) -> list[tuple]:
    return [(c.metric, c.instance, c.state, c.breached, c.due_at, c.original_due_at, c.target_seconds) for c in clocks]


def _warnings_ahead(sla: ComplaintSla, context: SlaContext, at: datetime) -> list[list[datetime]]:
    policy = _policy(sla, context)
    moments = []
    for clock in sla.clocks:
        target = policy.target(clock.metric, sla.attributes.priority)
        thresholds = [w.consumed_at_warning(clock.target_seconds) for w in target.warnings] if target else []
        moments.append(sla_clocks.warning_times(clock, thresholds, context.calendar(clock), at) if thresholds else [])
    return moments
