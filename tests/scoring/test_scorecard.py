"""One customer's scorecard: order-independent, explained, and its churn moment is where p_alive crosses."""

import math
import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.scoring.in_use import default_standard, priors_calibration
from services.scoring.scores.scorecard import (
    Answer, Complaint, CustomerFacts, day_number, moment_of, score_customer, summarise,
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
