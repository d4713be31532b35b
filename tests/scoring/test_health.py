"""The health score is the sum of its explained contributions, and a comparison says why it moved."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.scoring.scores.health import CustomerSignals, compare_explanations, health_score
from services.scoring.scores.standard import DEFAULT_STANDARD, EvaluationStandard

FULL = CustomerSignals(clv_percentile=0.9, p_alive=0.8, repeat_periods=4, tenure_days=300, nps=9, csat=5,
                       open_complaints=0)


def maybe(strategy):
    return st.one_of(st.none(), strategy)


signals = st.builds(
    CustomerSignals,
    clv_percentile=maybe(st.floats(0, 1)),
    p_alive=maybe(st.floats(0, 1)),
    repeat_periods=maybe(st.integers(0, 200).map(float)),
    tenure_days=st.floats(0, 3000),
    nps=maybe(st.integers(0, 10).map(float)),
    nps_age_days=st.floats(0, 1000),
    csat=maybe(st.integers(1, 5).map(float)),
    csat_age_days=st.floats(0, 1000),
    open_complaints=maybe(st.integers(0, 5)),
    breached_complaints=st.integers(0, 5),
    recent_complaints=st.integers(0, 5),
)


@st.composite
def standards(draw):
    raw = [draw(st.floats(0, 1)) for _ in range(5)]
    total = math.fsum(raw)
    if total == 0:
        return DEFAULT_STANDARD
    weights = dict(zip(("value", "activity", "loyalty", "satisfaction", "service"), (w / total for w in raw)))
    return EvaluationStandard.from_dict({"weights": weights})


@settings(max_examples=200, deadline=None)
@given(signals=signals, standard=standards())
def test_explanation_contributions_sum_to_the_score(signals, standard):
    explanation = health_score(signals, standard)
    if explanation.score is not None:
        assert math.fsum(i.contribution for i in explanation.indicators) == pytest.approx(explanation.score, abs=1e-9)
        assert 0 <= explanation.score <= 100 + 1e-9
        assert math.fsum(i.effective_weight for i in explanation.indicators) == pytest.approx(1, abs=1e-9)


def test_contribution_is_effective_weight_times_sub_score():
    explanation = health_score(FULL, DEFAULT_STANDARD)
    activity = explanation.indicator("activity")
    assert (activity.raw, activity.sub_score, activity.weight) == ({"p_alive": 0.8}, 80.0, 0.25)
    assert activity.contribution == pytest.approx(0.25 * 80)


def test_indicator_without_data_is_left_out_and_the_others_renormalised():
    explanation = health_score(CustomerSignals(clv_percentile=0.5, p_alive=1.0), DEFAULT_STANDARD)
    assert set(explanation.left_out) == {"loyalty", "satisfaction", "service"}
    assert explanation.indicator("value").effective_weight == pytest.approx(0.5)
    assert explanation.score == pytest.approx(0.5 * 50 + 0.5 * 100)


def test_no_data_at_all_gives_no_score():
    assert health_score(CustomerSignals(), DEFAULT_STANDARD).score is None


def test_an_old_satisfaction_answer_counts_less():
    fresh = health_score(CustomerSignals(nps=0, nps_age_days=0), DEFAULT_STANDARD).indicator("satisfaction")
    old = health_score(CustomerSignals(nps=0, nps_age_days=90), DEFAULT_STANDARD).indicator("satisfaction")
    assert (fresh.sub_score, old.sub_score) == (0.0, 25.0)


def test_breached_complaints_cost_more_than_open_ones():
    def service(**counts):
        return health_score(CustomerSignals(**counts), DEFAULT_STANDARD).indicator("service").sub_score

    assert service(open_complaints=1) == 90.0
    assert service(open_complaints=1, breached_complaints=1) == 65.0
    assert service(open_complaints=20) == 0.0


def test_comparison_names_the_indicators_that_moved_the_score_largest_first():
    before = health_score(FULL, DEFAULT_STANDARD)
    after = health_score(CustomerSignals(**{**FULL.__dict__, "p_alive": 0.4, "open_complaints": 1}), DEFAULT_STANDARD)
    move = compare_explanations(before, after)
    assert [m.indicator for m in move.moves[:2]] == ["activity", "service"]
    assert move.moves[0].change == pytest.approx(-10.0) and move.moves[1].change == pytest.approx(-1.5)
    assert move.change == pytest.approx(after.score - before.score)
    assert all(m.change == 0 for m in move.moves[2:]) and move.same_standard


@settings(max_examples=100, deadline=None)
@given(before=signals, after=signals)
def test_indicator_moves_add_up_to_the_change_in_score(before, after):
    first, second = health_score(before, DEFAULT_STANDARD), health_score(after, DEFAULT_STANDARD)
    if first.score is not None and second.score is not None:
        assert compare_explanations(first, second).change == pytest.approx(second.score - first.score, abs=1e-9)
