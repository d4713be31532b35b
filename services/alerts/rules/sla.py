"""The complaint SLA timer plan: from the snapshots in a complaint event, which timers to arm,
which to disarm, and which alerts the event shows to be over. The deadlines are feedback's; this
only follows them."""

from dataclasses import dataclass, field
from datetime import datetime

from services.alerts.rules.config import RuleSet
from services.alerts.rules.decisions import Candidate

TIMER_KIND = "alerts.sla"
DEADLINE = "deadline"
CLOSED_STATUSES = {"resolved", "closed"}


@dataclass(frozen=True)
class SlaTimer:
    key: str
    due_at: datetime
    payload: dict


@dataclass
class SlaPlan:
    arm: list[SlaTimer] = field(default_factory=list)
    disarm_prefixes: list[str] = field(default_factory=list)  # every timer whose key starts so
    resolve_causes: list[str] = field(default_factory=list)  # alerts whose cause starts so are over


def metric_prefix(complaint_id: str, metric: str, instance: int) -> str:
    return f"complaint:{complaint_id}:{metric}:{instance}:"


def plan_for(*, customer_id: str, complaint_id: str, status: str, priority: str, snapshots: list) -> SlaPlan:
    plan = SlaPlan()
    if status in CLOSED_STATUSES:
        # An answered complaint: nothing of it may still fire, and what was raised is over.
        plan.disarm_prefixes.append(f"complaint:{complaint_id}:")
        plan.resolve_causes.append(f"complaint:{complaint_id}:")
        return plan
    for snapshot in snapshots:
        prefix = metric_prefix(complaint_id, snapshot.metric, snapshot.instance)
        # Re-arming is "disarm all, arm what the event says": a moved deadline or a new target
        # leaves no timer of the old one behind.
        plan.disarm_prefixes.append(prefix)
        if snapshot.state == "fulfilled":
            plan.resolve_causes.append(prefix)
        if snapshot.state != "running" or snapshot.due_at is None:
            continue
        facts = {"complaint_id": complaint_id, "metric": snapshot.metric, "instance": snapshot.instance,
                 "priority": priority, "deadline": snapshot.due_at.isoformat(), "target_seconds": snapshot.target_seconds,
                 "consumed_seconds": snapshot.consumed_seconds}
        moments = [(f"warning_{number}", moment) for number, moment in enumerate(snapshot.warnings_at, start=1)]
        for threshold, moment in moments + [(DEADLINE, snapshot.due_at)]:
            payload = {"customer_id": customer_id, "threshold": threshold, "facts": facts | {"threshold": threshold}}
            plan.arm.append(SlaTimer(key=prefix + threshold, due_at=moment, payload=payload))
    return plan


def sla_candidate(rules: RuleSet, *, key: str, payload: dict, due_at: datetime) -> Candidate | None:
    rule = rules.complaint_sla
    if not rule.enabled:
        return None
    breached = payload["threshold"] == DEADLINE
    kind = "sla_breached" if breached else "sla_warning"
    severity = rule.breach_severity if breached else rule.warning_severity
    # Once per (complaint, metric, instance, threshold): the timer key names exactly that.
    return Candidate(kind, "complaint_sla", severity, payload["customer_id"], key, dict(payload["facts"]), due_at)
