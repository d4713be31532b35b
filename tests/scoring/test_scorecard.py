"""One customer's scorecard: order-independent, explained, and its churn moment is where p_alive crosses."""

import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np

from hypothesis import given, settings
from hypothesis import strategies as st

from services.scoring.btyd import gamma_gamma
from services.scoring.btyd.clv import customer_lifetime_value
from services.scoring.in_use import default_standard, priors_calibration
from services.scoring.scores import predictions
from services.scoring.scores.predictions import IfAliveParts, predict_columns
from services.scoring.scores.scorecard import (
    Answer, Complaint, CustomerFacts, StoredCard, day_number, moment_of, score_customer, score_customers, summarise,
)
from services.scoring.scores.standard import EvaluationStandard
from services.scoring.settings import ScoringSettings

SETTINGS = ScoringSettings()
CALIBRATION = priors_calibration(SETTINGS)
STANDARD = default_standard(SETTINGS)
AS_OF = datetime(2026, 3, 1, tzinfo=UTC)
TODAY = math.floor(day_number(AS_OF))

lines = st.lists(st.tuples(st.integers(TODAY - 400, TODAY), st.integers(-50_000, 500_000)), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(lines=lines, seed=st.integers(0, 2**32 - 1))
def test_the_scorecard_is_the_same_for_any_order_of_the_same_events(lines, seed):
    shuffled = random.Random(seed).sample(lines, len(lines))
    first = score_customer(CustomerFacts(lines), calibration=CALIBRATION, standard=STANDARD, as_of=AS_OF)
    second = score_customer(CustomerFacts(shuffled), calibration=CALIBRATION, standard=STANDARD, as_of=AS_OF)
    assert first == second


def test_purchases_after_the_moment_are_not_counted_yet():
    summary = summarise([(TODAY - 10, 10_000), (TODAY + 3, 10_000)], as_of_day=TODAY)
    assert summary.frequency == 0 and summary.T == 10


def test_the_explanation_adds_up_and_names_what_is_left_out():
    facts = CustomerFacts(
        [(TODAY - 90, 100_000), (TODAY - 30, 200_000)],
        answers={"nps": Answer(9, AS_OF - timedelta(days=10))},
        complaints=[Complaint("open", True, AS_OF - timedelta(days=5))],
    )
    card = score_customer(facts, calibration=CALIBRATION, standard=STANDARD, as_of=AS_OF)
    assert math.isclose(card.health.score, math.fsum(i.contribution for i in card.health.indicators), abs_tol=1e-12)
    assert card.health.left_out == ("value",)  # no calibrated population yet: no CLV percentile
    assert card.health.indicator("service").sub_score == 100 - 10 - 25 - 5


def test_the_next_threshold_is_the_first_whole_day_below_it():
    facts = CustomerFacts([(TODAY - 40, 10_000), (TODAY - 30, 10_000), (TODAY - 20, 10_000)])
    card = score_customer(facts, calibration=CALIBRATION, standard=STANDARD, as_of=AS_OF)
    crossing = card.next_threshold_at
    before = score_customer(facts, calibration=CALIBRATION, standard=STANDARD, as_of=crossing - timedelta(seconds=1))
    at = score_customer(facts, calibration=CALIBRATION, standard=STANDARD, as_of=crossing)
    assert before.predictions.p_alive >= STANDARD.stages.at_risk_below > at.predictions.p_alive
    assert crossing == moment_of(math.floor(day_number(crossing)))  # a midnight, UTC


def test_a_crossing_beyond_the_calendar_is_no_churn_moment_rather_than_an_overflow():
    # A lone purchase under high stage lines: the model puts the next crossing past the year 9999. Scoring
    # such a buyer once raised OverflowError, so every purchase of a new buyer was dead-lettered.
    standard = EvaluationStandard.from_dict({"stages": {"at_risk_below": 0.72, "churned_below": 0.05}})
    card = score_customer(CustomerFacts([(TODAY - 40, 100_000)]), calibration=CALIBRATION, standard=standard, as_of=AS_OF)
    assert card.next_threshold_at is None


# A fitted calibration with parameter draws for the CLV interval (MBG/NBD near CDNOW's estimates).
DRAWS = np.random.default_rng(5)
FITTED = replace(
    CALIBRATION, params=np.array([0.53, 11.0, 0.56, 2.8]), order_value_params=np.array([6.25, 3.74, 15.4]),
    purchase_draws=np.array([0.53, 11.0, 0.56, 2.8]) * DRAWS.uniform(0.9, 1.1, (40, 4)),
    order_value_draws=np.array([6.25, 3.74, 15.4]) * DRAWS.uniform(0.95, 1.05, (40, 3)),
    clv_grid=np.linspace(0.0, 400.0, 101),
)
stored_cards = st.builds(StoredCard, st.sampled_from(["prospect", "new", "active", "at_risk", "churned"]),
                         st.one_of(st.none(), st.integers(TODAY - 400, TODAY)))
answers = st.dictionaries(st.sampled_from(["nps", "csat"]), st.builds(
    Answer, st.integers(0, 5), st.integers(0, 300).map(lambda days: AS_OF - timedelta(days=days))), max_size=2)
complaints = st.lists(st.builds(Complaint, st.sampled_from(["open", "resolved", "closed"]), st.booleans(),
                                st.one_of(st.none(), st.integers(0, 200).map(lambda days: AS_OF - timedelta(days=days)))),
                      max_size=2)
customers = st.lists(st.tuples(st.builds(CustomerFacts, st.one_of(st.just([]), lines), answers, complaints), stored_cards),
                     min_size=1, max_size=8)


@settings(max_examples=40, deadline=None)
@given(customers=customers, fitted=st.booleans())
def test_many_customers_scored_at_once_get_each_the_card_scored_alone(customers, fitted):
    calibration = FITTED if fitted else CALIBRATION
    together = score_customers(customers, calibration=calibration, standard=STANDARD, as_of=AS_OF)
    for (facts, stored), card in zip(customers, together):
        summary = summarise(facts.purchase_lines, as_of_day=TODAY)
        purchased = summary is not None and (stored.last_purchase_day is None or summary.last_day > stored.last_purchase_day)
        alone = score_customer(facts, calibration=calibration, standard=STANDARD, as_of=AS_OF, previous_stage=stored.stage,
                               purchased=purchased)
        assert_same(card, alone)


def assert_same(a, b, path="card"):
    """Equal, floats to the last few bits: a sum over one customer's months rounds apart from one over many."""
    if isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12), f"{path}: {a!r} != {b!r}"
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            assert_same(a[key], b[key], f"{path}.{key}")
    elif hasattr(a, "__dataclass_fields__") and type(a) is type(b):
        for name in a.__dataclass_fields__:
            assert_same(getattr(a, name), getattr(b, name), f"{path}.{name}")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def test_predictions_equal_the_models_own_formulas_for_every_customer():
    # Many customers share a repeat count and an age: the if-alive parts are computed once per pair.
    rng = np.random.default_rng(2)
    x = rng.integers(0, 6, 500).astype(float)
    T = rng.integers(1, 60, 500).astype(float)
    t_x = np.where(x > 0, np.floor(T * rng.uniform(0, 1, 500)), 0.0)
    m = np.where(x > 0, rng.uniform(5, 80, 500), 0.0)
    found = predict_columns(FITTED, x, t_x, T, m)
    model = FITTED.model

    def clv_with(params, value_params):
        order_value = gamma_gamma.expected_order_value(value_params, x, m)
        return customer_lifetime_value(lambda t, *args: model.expected_purchases(params, t, *args), x, t_x, T, order_value)

    assert np.array_equal(found.clv, clv_with(FITTED.params, FITTED.order_value_params))
    assert np.array_equal(found.p_alive, model.p_alive(FITTED.params, x, t_x, T))
    for days, expected in found.expected_purchases.items():
        assert np.array_equal(expected, model.expected_purchases(FITTED.params, float(days), x, t_x, T))
    draws = np.stack([clv_with(p, v) for p, v in zip(FITTED.purchase_draws, FITTED.order_value_draws)])
    low, high = np.quantile(draws, [0.05, 0.95], axis=0)
    assert np.allclose(found.clv_low, low, rtol=1e-12) and np.allclose(found.clv_high, high, rtol=1e-12)


def test_the_kept_if_alive_parts_start_over_rather_than_grow_without_bound(monkeypatch):
    monkeypatch.setattr(predictions, "MAX_KEPT_PAIRS", 3)
    parts = IfAliveParts(FITTED.model, FITTED.purchase_sets, months=12, monthly_discount=0.01)
    first = parts.of(np.array([0.0, 1.0]), np.array([10.0, 20.0]))
    again = parts.of(np.array([2.0, 3.0, 1.0]), np.array([30.0, 40.0, 20.0]))
    assert len(parts._rows) == 3 and np.array_equal(again[0][2], first[0][1]) and np.array_equal(again[1][2], first[1][1])
