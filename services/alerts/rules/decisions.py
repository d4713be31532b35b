"""Which events raise which alert. Functions of the event and the customer as known; no I/O."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.alerts.rules.config import RuleSet, severity_for

Facts = dict[str, float | int | str | bool | None]


@dataclass(frozen=True)
class CustomerState:
    customer_id: str
    tier: str = "unrated"
    stage: str | None = None
    p_alive: float | None = None
    health: float | None = None
    clv: float | None = None


@dataclass(frozen=True)
class Candidate:
    """An alert a rule asks for; it becomes one unless an open one or a quiet period stands in the way."""

    kind: str
    rule: str
    severity: str
    customer_id: str
    cause: str
    facts: Facts = field(default_factory=dict)
    due_at: datetime | None = None

    @property
    def dedup_key(self) -> str:
        return dedup_key(self.kind, self.customer_id, self.cause)


def dedup_key(kind: str, customer_id: str, cause: str) -> str:
    """Stable across re-deliveries and restarts: made of what caused the alert, never of when it was seen."""
    return f"{kind}:{customer_id}:{cause}"


def _customer_facts(customer: CustomerState) -> Facts:
    return {"tier": customer.tier, "stage": customer.stage, "p_alive": customer.p_alive,
            "health": customer.health, "clv": customer.clv}


def churn_on_stage(rules: RuleSet, customer: CustomerState, *, previous_stage: str | None) -> Candidate | None:
    rule = rules.churn_risk
    if not rule.enabled or customer.tier not in rule.tiers or customer.stage not in rule.stages:
        return None
    facts = _customer_facts(customer) | {"previous_stage": previous_stage, "trigger": "stage"}
    # One churn alert per customer at a time, whatever moved it: the cause is the customer's churn risk.
    return Candidate("churn_risk", "churn_risk", severity_for(rule.severity_by_tier, customer.tier), customer.customer_id, "churn", facts)


def churn_on_score(rules: RuleSet, customer: CustomerState) -> Candidate | None:
    rule = rules.churn_risk
    threshold = rule.p_alive_below
    if not rule.enabled or threshold is None or customer.p_alive is None or customer.tier not in rule.tiers:
        return None
    if customer.p_alive >= threshold:
        return None
    facts = _customer_facts(customer) | {"p_alive_threshold": threshold, "trigger": "p_alive"}
    return Candidate("churn_risk", "churn_risk", severity_for(rule.severity_by_tier, customer.tier), customer.customer_id, "churn", facts)


def follow_up_due_at(rules: RuleSet, tier: str, last_contact: datetime) -> datetime | None:
    """When a customer of this tier, last contacted then, is due for a follow-up; None: no follow-ups."""
    rule = rules.follow_up_due
    days = rule.interval_days.get(tier)
    if not rule.enabled or days is None:
        return None
    return last_contact + timedelta(days=days)


def follow_up(rules: RuleSet, customer: CustomerState, *, last_contact: datetime, due_at: datetime) -> Candidate:
    rule = rules.follow_up_due
    facts = _customer_facts(customer) | {
        "interval_days": rule.interval_days.get(customer.tier), "last_contact_at": last_contact.isoformat(),
    }
    severity = severity_for(rule.severity_by_tier, customer.tier)
    # The cause is the silence since that contact: a later contact makes a new cause.
    return Candidate("follow_up_due", "follow_up_due", severity, customer.customer_id, f"since:{last_contact.isoformat()}", facts, due_at)


def detractor(rules: RuleSet, customer: CustomerState, *, response_id: str, survey_kind: str, score: int,
              scale_min: int, scale_max: int) -> Candidate | None:
    rule = rules.detractor
    if not rule.enabled or customer.tier not in rule.tiers:
        return None
    if survey_kind == "nps":
        detracting = score <= rule.nps_max
    elif survey_kind == "csat":
        detracting = _on_five_point_scale(score, scale_min, scale_max) <= rule.csat_max
    else:
        return None
    if not detracting:
        return None
    facts = _customer_facts(customer) | {"survey_kind": survey_kind, "score": score, "scale_min": scale_min,
                                         "scale_max": scale_max, "response_id": response_id}
    return Candidate("detractor", "detractor", severity_for(rule.severity_by_tier, customer.tier), customer.customer_id,
                     f"response:{response_id}", facts)


def _on_five_point_scale(score: int, scale_min: int, scale_max: int) -> float:
    """CSAT thresholds are on 1..5; a survey on another scale is mapped onto it linearly."""
    if (scale_min, scale_max) == (1, 5) or scale_max == scale_min:
        return score
    return 1 + 4 * (score - scale_min) / (scale_max - scale_min)
