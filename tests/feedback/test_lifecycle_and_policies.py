"""The complaint lifecycle as data, and how policies are validated and matched."""

from datetime import datetime, timezone

import pytest

from services.feedback.complaints import lifecycle
from services.feedback.complaints.lifecycle import IllegalTransition
from services.feedback.sla.policies import ComplaintAttributes, PolicyError, PolicySet
from tests.feedback.sla_fixtures import POLICIES, targets


def policy(id, position, default=False, enabled=True, **conditions):
    return {"id": id, "position": position, "default": default, "enabled": enabled, "conditions": conditions,
            "targets": {"resolution": targets("24x7", normal=1)}}


def test_every_unresolved_state_can_be_resolved_and_closed_is_final():
    for state in lifecycle.UNRESOLVED:
        assert lifecycle.next_state(state, "resolve") == lifecycle.RESOLVED
    assert lifecycle.allowed_actions(lifecycle.CLOSED) == ()


def test_an_illegal_transition_names_the_allowed_ones_and_closed_names_none():
    with pytest.raises(IllegalTransition) as raised:
        lifecycle.next_state(lifecycle.OPEN, "start")
    assert raised.value.allowed == ("acknowledge", "resolve")
    assert "acknowledge -> acknowledged, resolve -> resolved" in str(raised.value)
    with pytest.raises(IllegalTransition, match="none \\(final state\\)"):
        lifecycle.next_state(lifecycle.CLOSED, "reopen")


def test_the_first_enabled_policy_by_position_wins_not_by_name():
    policies = PolicySet.from_dict({"policies": [
        policy("a-late", 5, channel=["email"]),
        policy("z-early", 2, channel=["email"]),
        policy("disabled", 1, enabled=False, channel=["email"]),
        policy("catch-all", 9, default=True),
    ]})
    assert policies.match(ComplaintAttributes(channel="email")).id == "z-early"
    assert policies.match(ComplaintAttributes(channel="phone")).id == "catch-all"


def test_conditions_combine_tier_channel_category_and_priority():
    policies = PolicySet.from_dict({"policies": [
        policy("gold-billing-urgent", 1, tier=["gold"], category=["billing"], priority=["urgent"]),
        policy("catch-all", 9, default=True),
    ]})
    assert policies.match(ComplaintAttributes("urgent", "gold", "web", "billing")).id == "gold-billing-urgent"
    assert policies.match(ComplaintAttributes("normal", "gold", "web", "billing")).id == "catch-all"


def test_a_policy_set_needs_exactly_one_default_and_distinct_positions():
    with pytest.raises(PolicyError, match="exactly one default policy, it has 0"):
        PolicySet.from_dict({"policies": [policy("a", 1)]})
    with pytest.raises(PolicyError, match="exactly one default policy, it has 2"):
        PolicySet.from_dict({"policies": [policy("a", 1, default=True), policy("b", 2, default=True)]})
    with pytest.raises(PolicyError, match="share a position"):
        PolicySet.from_dict({"policies": [policy("a", 1), policy("b", 1, default=True)]})


def test_warnings_must_come_before_the_deadline():
    bad = {**POLICIES["policies"][1], "targets": {"resolution": {"normal": {"seconds": 3600, "warnings": [{"before_seconds": 3600}]}}}}
    with pytest.raises(PolicyError, match="not shorter than the 3600 s target"):
        PolicySet.from_dict({"policies": [bad]})


def test_default_warnings_are_at_75_and_90_percent_of_the_target():
    target = PolicySet.from_dict(POLICIES).match(ComplaintAttributes()).target("resolution", "normal")
    assert [w.consumed_at_warning(target.seconds) for w in target.warnings] == [0.75 * 16 * 3600, 0.9 * 16 * 3600]


def test_a_resolved_complaint_is_auto_closed_the_given_number_of_days_later():
    resolved_at = datetime(2026, 3, 2, 10, tzinfo=timezone.utc)
    assert lifecycle.auto_close_at(resolved_at, after_days=7) == datetime(2026, 3, 9, 10, tzinfo=timezone.utc)


def test_a_policy_set_survives_its_json_form():
    policies = PolicySet.from_dict(POLICIES)
    assert PolicySet.from_dict(policies.to_dict()) == policies
