"""Policies, contexts and event helpers the SLA tests share."""

from functools import cache
from itertools import count

from services.feedback.complaints.sla_state import (
    AgentReplied,
    AttributesChanged,
    ComplaintOpened,
    CustomerMessaged,
    SlaContext,
    StatusChanged,
    apply_event,
    open_complaint,
)
from services.feedback.sla.calendars import builtin_calendars
from services.feedback.sla.policies import ComplaintAttributes, PolicySet
from tests.feedback.calendars_fixtures import HOUR, china_office, office

OFFICE_HOURS = 8 * HOUR  # 09:00-17:00 Monday to Friday, Asia/Shanghai


def targets(calendar: str, **hours_by_priority) -> dict:
    return {priority: {"seconds": int(hours * HOUR), "calendar": calendar} for priority, hours in hours_by_priority.items()}


POLICIES = {
    "default_priority": "normal",
    "policies": [
        {
            "id": "gold-customers",
            "position": 1,
            "conditions": {"tier": ["gold"]},
            "pause_on_third_party": True,
            "targets": {
                "first_response": targets("office", urgent=0.5, normal=1, low=2),
                "resolution": targets("office", urgent=2, normal=8, low=16),
            },
        },
        {
            "id": "standard",
            "position": 9,
            "default": True,
            "targets": {
                "first_response": targets("office", urgent=1, normal=4, low=8),
                "next_response": targets("office", urgent=1, normal=2, low=4),
                "resolution": targets("office", urgent=1, normal=16, low=40),
            },
        },
    ],
}


def context(calendar=None) -> SlaContext:
    calendars = {**builtin_calendars(), "office": calendar or office(), "cn-office": china_office()}
    return SlaContext(PolicySet.from_dict(POLICIES), calendars)


@cache
def default_context() -> SlaContext:
    return context()


_ids = count(1)


def next_id() -> str:
    return f"event-{next(_ids)}"


def opened(at, priority="normal", tier=None, complaint_id="complaint-1", ctx=None):
    event = ComplaintOpened(next_id(), at, complaint_id, ComplaintAttributes(priority=priority, tier=tier))
    return open_complaint(event, ctx or default_context())


def status(sla, action, at, ctx=None):
    return apply_event(sla, StatusChanged(next_id(), at, action), ctx or default_context())


def statuses(sla, at, *actions, ctx=None):
    """Apply lifecycle actions one after another, all at `at`."""
    for action in actions:
        sla = status(sla, action, at, ctx)
    return sla


def in_progress(at, ctx=None, **opening):
    """A complaint opened, acknowledged and started at `at`."""
    return statuses(opened(at, ctx=ctx, **opening), at, "acknowledge", "start", ctx=ctx)


def agent_reply(sla, at, ctx=None, **kind):
    return apply_event(sla, AgentReplied(next_id(), at, **kind), ctx or default_context())


def customer_message(sla, at, ctx=None):
    return apply_event(sla, CustomerMessaged(next_id(), at), ctx or default_context())


def priority_changed(sla, priority, at, ctx=None):
    attributes = ComplaintAttributes(priority=priority, tier=sla.attributes.tier)
    return apply_event(sla, AttributesChanged(next_id(), at, attributes), ctx or default_context())
