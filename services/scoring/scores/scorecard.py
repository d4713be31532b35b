"""One customer's scorecard: every number of scoring.md from their facts, a calibration and a standard.

Pure: the service loads the facts and the calibration, calls `score_customer`, and compares the
result with the stored card (`changes_between`) to decide which events to publish.
"""

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from services.scoring.btyd import gamma_gamma
from services.scoring.btyd.clv import customer_lifetime_value
from services.scoring.btyd.purchase_models import PurchaseModel
from services.scoring.scores.health import CustomerSignals, HealthExplanation, health_score
from services.scoring.scores.lifecycle import PROSPECT, next_stage
from services.scoring.scores.rfm import RfmEdges, rfm_codes, rfm_scores
from services.scoring.scores.standard import EvaluationStandard, TierCutoffs
from services.scoring.scores.summary import CustomerPurchases, CustomerSummary
from services.scoring.scores.tiers import UNRATED

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECONDS_PER_DAY = 86_400.0
HORIZONS_DAYS = (30, 90, 365)
INTERVAL_TAIL = 0.05  # a 90 % interval
RECENT_COMPLAINT_DAYS = 90.0
OPEN = "open"


def day_number(moment: datetime) -> float:
    """Days since 1970-01-01 UTC, fractional."""
    return (moment - EPOCH).total_seconds() / SECONDS_PER_DAY


LAST_DAY = math.floor(day_number(datetime.max.replace(tzinfo=UTC)))


def moment_of(day: float) -> datetime:
    return EPOCH + timedelta(days=day)


@dataclass(frozen=True)
class Calibration:
    """What a refit produces: the models' parameters, parameter draws for the intervals, the CLV
    distribution (for percentiles and tiers) and the RFM quintile edges of the population."""

    fit_id: int | None
    model: PurchaseModel
    params: np.ndarray
    order_value_params: np.ndarray
    purchase_draws: np.ndarray | None = None  # (draws, params), None when priors are in use
    order_value_draws: np.ndarray | None = None
    clv_grid: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rfm_edges: RfmEdges | None = None
    months: int = 12
    monthly_discount: float = 0.01


@dataclass(frozen=True)
class Complaint:
    status: str
    breached: bool
    opened_at: datetime | None


@dataclass(frozen=True)
class Answer:
    score: int
    answered_at: datetime


@dataclass(frozen=True)
class CustomerFacts:
    purchase_lines: list[tuple[int, int]]  # (day number, signed units) per purchase or refund
    answers: dict[str, Answer] = field(default_factory=dict)  # latest per kind: nps, csat, ces
    complaints: list[Complaint] = field(default_factory=list)


@dataclass(frozen=True)
class Predictions:
    p_alive: float
    expected_purchases: dict[int, float]
    expected_order_value: float
    clv: float
    clv_interval: tuple[float, float] | None


@dataclass(frozen=True)
class Scorecard:
    as_of: datetime
    summary: CustomerSummary | None
    predictions: Predictions | None
    clv_percentile: float | None
    rfm: str | None
    health: HealthExplanation
    tier: str
    stage: str
    reactivated: bool
    next_threshold_at: datetime | None

    @property
    def purchase_periods(self) -> int:
        return 0 if self.summary is None else int(self.summary.frequency) + 1


def summarise(lines: list[tuple[int, int]], *, as_of_day: float) -> CustomerSummary | None:
    purchases = CustomerPurchases()
    for day, units in lines:
        if day <= as_of_day:
            purchases.record(day=day, amount=units / 10_000)
    return purchases.summary(as_of=as_of_day)


def predict(calibration: Calibration, summary: CustomerSummary) -> Predictions:
    return predict_many(calibration, [summary])[0]


def predict_many(calibration: Calibration, summaries: list[CustomerSummary]) -> list[Predictions]:
    """Vectorised over the customers; the CLV interval takes one pass per parameter draw."""
    if not summaries:
        return []
    x, t_x, T, m = (np.array([getattr(s, name) for s in summaries], dtype=float) for name in ("frequency", "recency", "T", "monetary"))
    p_alive, expected, order_value, clv = _predict(calibration, calibration.params, calibration.order_value_params, x, t_x, T, m)
    low = high = None
    if calibration.purchase_draws is not None and calibration.order_value_draws is not None:
        clv_draws = np.stack([_predict(calibration, purchase, value, x, t_x, T, m)[3]
                              for purchase, value in zip(calibration.purchase_draws, calibration.order_value_draws)])
        low, high = np.quantile(clv_draws, [INTERVAL_TAIL, 1 - INTERVAL_TAIL], axis=0)
    return [
        Predictions(float(p_alive[i]), {h: float(v[i]) for h, v in expected.items()}, float(order_value[i]), float(clv[i]),
                    None if low is None else (float(low[i]), float(high[i])))
        for i in range(len(summaries))
    ]


def _predict(calibration: Calibration, params, order_value_params, x, t_x, T, m):
    """Each number per customer, for one set of parameters."""
    model = calibration.model
    p_alive = model.p_alive(params, x, t_x, T)
    expected = {h: model.expected_purchases(params, float(h), x, t_x, T) for h in HORIZONS_DAYS}
    order_value = gamma_gamma.expected_order_value(order_value_params, x, m)

    def purchases(t, x, t_x, T):
        return model.expected_purchases(params, t, x, t_x, T)

    clv = customer_lifetime_value(purchases, x, t_x, T, order_value,
                                  months=calibration.months, monthly_discount=calibration.monthly_discount)
    return p_alive, expected, order_value, clv


def percentile_in(grid: np.ndarray, clv: float) -> float | None:
    """The share of the calibrated population with a lower CLV (mid-rank among equal ones)."""
    if grid.size == 0:
        return None
    below = np.searchsorted(grid, clv, side="left")
    tied = np.searchsorted(grid, clv, side="right") - below
    return float((below + tied / 2) / grid.size)


def tier_of(cutoffs: TierCutoffs, *, clv: float | None, percentile: float | None) -> str:
    if clv is None:
        return UNRATED
    if cutoffs.by == "amount":
        return "high" if clv >= cutoffs.high else "medium" if clv >= cutoffs.medium else "low"
    if percentile is None:
        return UNRATED
    if percentile >= 1 - cutoffs.high:
        return "high"
    return "medium" if percentile >= 1 - cutoffs.high - cutoffs.medium else "low"


def rfm_of(edges: RfmEdges | None, summary: CustomerSummary | None) -> str | None:
    if edges is None or summary is None:
        return None
    r, f, m = rfm_scores(edges, days_since_last=[summary.T - summary.recency],
                         purchase_periods=[summary.frequency + 1], total_spend=[summary.total_spend])
    return rfm_codes(r, f, m)[0]


def signals_of(facts: CustomerFacts, summary: CustomerSummary | None, predictions: Predictions | None,
               percentile: float | None, as_of: datetime) -> CustomerSignals:
    def age(answer: Answer | None) -> float:
        return 0.0 if answer is None else max(0.0, (as_of - answer.answered_at).total_seconds() / SECONDS_PER_DAY)

    nps, csat = facts.answers.get("nps"), facts.answers.get("csat")
    open_ones = [c for c in facts.complaints if c.status not in ("resolved", "closed")]
    recent = [c for c in facts.complaints
              if c.opened_at is not None and (as_of - c.opened_at).total_seconds() <= RECENT_COMPLAINT_DAYS * SECONDS_PER_DAY]
    # Service is measured from a customer's first purchase or complaint: a prospect has no record of it.
    measured_service = summary is not None or bool(facts.complaints)
    return CustomerSignals(
        clv_percentile=percentile,
        p_alive=None if predictions is None else predictions.p_alive,
        repeat_periods=None if summary is None else summary.frequency,
        tenure_days=None if summary is None else summary.T,
        nps=None if nps is None else float(nps.score), nps_age_days=age(nps),
        csat=None if csat is None else float(csat.score), csat_age_days=age(csat),
        open_complaints=len(open_ones) if measured_service else None,
        breached_complaints=sum(1 for c in open_ones if c.breached),
        recent_complaints=len(recent),
    )


def next_threshold_at(calibration: Calibration, standard: EvaluationStandard, summary: CustomerSummary | None,
                      p_alive: float | None) -> datetime | None:
    """When p_alive, as scored on whole days, first falls below the next stage threshold (scoring.md §3)."""
    if summary is None or p_alive is None:
        return None
    thresholds = standard.stages
    if p_alive >= thresholds.at_risk_below:
        threshold = thresholds.at_risk_below
    elif p_alive >= thresholds.churned_below:
        threshold = thresholds.churned_below
    else:
        return None
    age = float(np.squeeze(calibration.model.threshold_age(calibration.params, threshold, summary.frequency, summary.recency)))
    if not math.isfinite(age):
        return None
    # p_alive is taken at whole days of age: below the threshold from the first whole day past the crossing.
    crossing_day = max(math.floor(age) + 1, summary.T + 1)
    if summary.first_day + crossing_day > LAST_DAY:
        return None  # past the year 9999 (a high threshold and a lone first purchase): never, in practice
    return moment_of(summary.first_day + crossing_day)


def score_customer(facts: CustomerFacts, *, calibration: Calibration, standard: EvaluationStandard, as_of: datetime,
                   previous_stage: str = PROSPECT, purchased: bool = False) -> Scorecard:
    summary = summarise(facts.purchase_lines, as_of_day=math.floor(day_number(as_of)))
    predictions = None if summary is None else predict(calibration, summary)
    return _scorecard(facts, summary, predictions, calibration=calibration, standard=standard, as_of=as_of,
                      previous_stage=previous_stage, purchased=purchased)


@dataclass(frozen=True)
class StoredCard:
    """What the stored card of a customer said, as far as the next card depends on it."""

    stage: str = PROSPECT
    last_purchase_day: int | None = None


def score_customers(customers: list[tuple[CustomerFacts, StoredCard]], *, calibration: Calibration,
                    standard: EvaluationStandard, as_of: datetime) -> list[Scorecard]:
    """Many customers at once, the predictions vectorised; a new latest purchase period counts as
    a purchase for the stage (from at_risk or churned, a reactivation)."""
    as_of_day = math.floor(day_number(as_of))
    summaries = [summarise(facts.purchase_lines, as_of_day=as_of_day) for facts, _ in customers]
    buyers = [i for i, summary in enumerate(summaries) if summary is not None]
    predictions = dict(zip(buyers, predict_many(calibration, [summaries[i] for i in buyers])))
    cards = []
    for i, (facts, stored) in enumerate(customers):
        summary = summaries[i]
        purchased = summary is not None and (stored.last_purchase_day is None or summary.last_day > stored.last_purchase_day)
        cards.append(_scorecard(facts, summary, predictions.get(i), calibration=calibration, standard=standard, as_of=as_of,
                                previous_stage=stored.stage, purchased=purchased))
    return cards


def _scorecard(facts: CustomerFacts, summary: CustomerSummary | None, predictions: Predictions | None, *,
               calibration: Calibration, standard: EvaluationStandard, as_of: datetime, previous_stage: str,
               purchased: bool) -> Scorecard:
    clv = None if predictions is None else predictions.clv
    percentile = None if clv is None else percentile_in(calibration.clv_grid, clv)
    health = health_score(signals_of(facts, summary, predictions, percentile, as_of), standard)
    p_alive = None if predictions is None else predictions.p_alive
    stage = next_stage(previous_stage, purchase_periods=0 if summary is None else int(summary.frequency) + 1,
                       p_alive=p_alive, purchased=purchased, thresholds=standard.stages)
    return Scorecard(
        as_of=as_of, summary=summary, predictions=predictions, clv_percentile=percentile,
        rfm=rfm_of(calibration.rfm_edges, summary), health=health,
        tier=tier_of(standard.tiers, clv=clv, percentile=percentile),
        stage=stage.current, reactivated=stage.reactivated,
        next_threshold_at=next_threshold_at(calibration, standard, summary, p_alive),
    )


@dataclass(frozen=True)
class Changes:
    health_moved: bool
    tier_changed: bool
    stage_changed: bool

    @property
    def any(self) -> bool:
        return self.health_moved or self.tier_changed or self.stage_changed


def changes_between(*, reported_health: float | None, previous_tier: str, previous_stage: str,
                    card: Scorecard, step: float) -> Changes:
    """Health counts as moved when it first exists or moved by more than the step since last reported;
    a customer not scored before was `unrated` and a `prospect`."""
    health = card.health.score
    moved = health is not None and (reported_health is None or abs(health - reported_health) > step)
    return Changes(moved, card.tier != previous_tier, card.stage != previous_stage)
