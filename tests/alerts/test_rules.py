"""The pure alert rules: who raises what, how severe, de-dup keys, and the SLA timer plan."""

from datetime import UTC, datetime, timedelta

from services.alerts.rules.config import RuleSet
from services.alerts.rules.decisions import CustomerState, churn_on_score, churn_on_stage, detractor, follow_up, follow_up_due_at
from services.alerts.rules.sla import DEADLINE, plan_for, sla_candidate
from services.common.catalog import SlaMetricSnapshot

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RULES = RuleSet()


def customer(tier="high", stage="at_risk", p_alive=None) -> CustomerState:
    return CustomerState(customer_id="c-1", tier=tier, stage=stage, p_alive=p_alive)


def test_churn_on_stage_by_tier_with_severity_by_tier():
    high = churn_on_stage(RULES, customer("high"), previous_stage="active")
    medium = churn_on_stage(RULES, customer("medium", "churned"), previous_stage="at_risk")
    assert (high.kind, high.severity, high.facts["stage"], high.facts["previous_stage"]) == ("churn_risk", "critical", "at_risk", "active")
    assert medium.severity == "warning"
    assert churn_on_stage(RULES, customer("low"), previous_stage="active") is None
    assert churn_on_stage(RULES, customer("high", "active"), previous_stage="at_risk") is None


def test_churn_alerts_of_one_customer_share_one_key_whatever_moved_them():
    by_stage = churn_on_stage(RULES, customer("high", "at_risk"), previous_stage="active")
    by_stage_again = churn_on_stage(RULES, customer("high", "churned"), previous_stage="at_risk")
    by_score = churn_on_score(RULES, customer("high", "active", p_alive=0.1))
    assert by_stage.dedup_key == by_stage_again.dedup_key == by_score.dedup_key == "churn_risk:c-1:churn"


def test_churn_on_score_below_the_threshold_only():
    assert churn_on_score(RULES, customer(p_alive=0.29)).facts["p_alive_threshold"] == 0.3
    assert churn_on_score(RULES, customer(p_alive=0.3)) is None
    switched_off = RuleSet.model_validate({"churn_risk": {"p_alive_below": None}})
    assert churn_on_score(switched_off, customer(p_alive=0.01)) is None


def test_follow_up_interval_by_tier_and_a_new_key_per_silence():
    assert follow_up_due_at(RULES, "high", T0) == T0 + timedelta(days=30)
    assert follow_up_due_at(RULES, "medium", T0) == T0 + timedelta(days=90)
    assert follow_up_due_at(RULES, "low", T0) is None
    first = follow_up(RULES, customer(), last_contact=T0, due_at=T0 + timedelta(days=30))
    later = follow_up(RULES, customer(), last_contact=T0 + timedelta(days=1), due_at=T0 + timedelta(days=31))
    assert first.dedup_key != later.dedup_key and first.due_at == T0 + timedelta(days=30)


def test_detractors_nps_0_to_6_and_csat_1_to_2_of_chosen_tiers():
    def answer(kind, score, lo, hi, tier="high"):
        return detractor(RULES, customer(tier), response_id="r-1", survey_kind=kind, score=score, scale_min=lo, scale_max=hi)

    assert answer("nps", 6, 0, 10).kind == "detractor"
    assert answer("nps", 7, 0, 10) is None
    assert answer("csat", 2, 1, 5).severity == "critical"
    assert answer("csat", 3, 1, 5) is None
    assert answer("csat", 1, 1, 7) is not None and answer("csat", 4, 1, 7) is None  # 4 of 7 is 3 of 5
    assert answer("ces", 1, 1, 7) is None
    assert answer("nps", 0, 0, 10, tier="low") is None


def snapshot(state="running", due=T0 + timedelta(hours=4), warnings=(T0 + timedelta(hours=2),), metric="resolution", instance=1):
    return SlaMetricSnapshot(metric=metric, instance=instance, state=state, breached=False, due_at=due,
                             consumed_seconds=0, target_seconds=14400, warnings_at=list(warnings))


def test_a_running_metric_arms_one_timer_per_warning_and_one_at_its_deadline():
    plan = plan_for(customer_id="c-1", complaint_id="k-1", status="open", priority="high", snapshots=[snapshot()])
    assert [(timer.key, timer.due_at) for timer in plan.arm] == [
        ("complaint:k-1:resolution:1:warning_1", T0 + timedelta(hours=2)),
        ("complaint:k-1:resolution:1:deadline", T0 + timedelta(hours=4)),
    ]
    assert plan.disarm_prefixes == ["complaint:k-1:resolution:1:"] and plan.resolve_causes == []


def test_every_timer_a_plan_arms_lies_under_a_prefix_it_disarms():
    # apply_sla_plan relies on it: it inserts the armed timers without cancelling each first.
    snapshots = [snapshot(), snapshot(metric="first_response", instance=2, warnings=()), snapshot("paused", metric="next_response")]
    plan = plan_for(customer_id="c-1", complaint_id="k-1", status="open", priority="high", snapshots=snapshots)
    assert len(plan.arm) == 3
    assert all(any(timer.key.startswith(prefix) for prefix in plan.disarm_prefixes) for timer in plan.arm)


def test_paused_fulfilled_and_closed_disarm_and_only_answers_resolve():
    paused = plan_for(customer_id="c-1", complaint_id="k-1", status="pending", priority="high", snapshots=[snapshot("paused")])
    fulfilled = plan_for(customer_id="c-1", complaint_id="k-1", status="open", priority="high",
                         snapshots=[snapshot("fulfilled", metric="first_response")])
    closed = plan_for(customer_id="c-1", complaint_id="k-1", status="resolved", priority="high", snapshots=[snapshot()])
    assert paused.arm == [] and paused.resolve_causes == []
    assert fulfilled.arm == [] and fulfilled.resolve_causes == ["complaint:k-1:first_response:1:"]
    assert closed.arm == [] and closed.disarm_prefixes == closed.resolve_causes == ["complaint:k-1:"]


def test_sla_candidates_are_once_per_complaint_metric_instance_threshold():
    plan = plan_for(customer_id="c-1", complaint_id="k-1", status="open", priority="high", snapshots=[snapshot()])
    warning, breach = (sla_candidate(RULES, key=t.key, payload=t.payload, due_at=t.due_at) for t in plan.arm)
    assert (warning.kind, warning.severity, breach.kind, breach.severity) == ("sla_warning", "warning", "sla_breached", "critical")
    assert breach.dedup_key == "sla_breached:c-1:complaint:k-1:resolution:1:deadline"
    assert breach.facts["deadline"] == (T0 + timedelta(hours=4)).isoformat() and breach.facts["threshold"] == DEADLINE
    moved = plan_for(customer_id="c-1", complaint_id="k-1", status="open", priority="high",
                     snapshots=[snapshot(due=T0 + timedelta(hours=6))])
    assert moved.arm[-1].key == plan.arm[-1].key and moved.arm[-1].due_at == T0 + timedelta(hours=6)
