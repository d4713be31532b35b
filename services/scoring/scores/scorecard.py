"""One customer's scorecard: every number of scoring.md from their facts, a calibration and a standard.

Pure: the service loads the facts and the calibration, calls `score_customers` (or
`score_customer`, the same for one), and compares the result with the stored card
(`changes_between`) to decide which events to publish. Every number is computed over arrays of
customers; only the cards themselves are built one by one.
"""

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from itertools import chain

import numpy as np

from services.scoring.btyd.purchase_models import PurchaseModel
from services.scoring.scores.health import CustomerSignals, HealthExplanation, SignalColumns, health_scores
from services.scoring.scores.lifecycle import PROSPECT, next_stages
from services.scoring.scores.predictions import IfAliveParts, PredictionColumns, Predictions, predict_columns
from services.scoring.scores.rfm import RfmEdges, rfm_codes, rfm_scores
from services.scoring.scores.standard import EvaluationStandard, TierCutoffs
from services.scoring.scores.summary import UNITS_PER_CURRENCY, CustomerSummary, PurchaseSummary, summarise_purchases
from services.scoring.scores.tiers import UNRATED

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECONDS_PER_DAY = 86_400.0
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

    @property
    def purchase_sets(self) -> np.ndarray:
        """The fitted parameters, then the draws for the interval when there are any."""
        return self._with_draws(self.params, self.purchase_draws)

    @property
    def order_value_sets(self) -> np.ndarray:
        return self._with_draws(self.order_value_params, self.order_value_draws)

    def _with_draws(self, params, draws) -> np.ndarray:
        if self.purchase_draws is None or self.order_value_draws is None:
            return np.atleast_2d(params)
        return np.vstack([params, draws])

    @cached_property
    def if_alive_parts(self) -> IfAliveParts:
        return IfAliveParts(self.model, self.purchase_sets, months=self.months, monthly_discount=self.monthly_discount)


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


SUMMARY_FIELDS = ("frequency", "recency", "T", "monetary", "first_day", "last_day", "total_spend")


def summary_columns(lines_of: list[list[tuple[int, int]]], *, as_of_day: float) -> PurchaseSummary:
    """Each customer's (day number, signed units) lines summarised, one entry per customer in their
    order, NaN for a customer without a counting purchase; lines after the day do not count yet."""
    n = len(lines_of)
    owner = np.repeat(np.arange(n), [len(lines) for lines in lines_of])
    flat = np.fromiter(chain.from_iterable(chain.from_iterable(lines_of)), dtype=float, count=2 * owner.size).reshape(-1, 2)
    known = flat[:, 0] <= as_of_day
    summary = summarise_purchases(owner[known], flat[known, 0], flat[known, 1] / UNITS_PER_CURRENCY, as_of=as_of_day)
    columns = {}
    for name in SUMMARY_FIELDS:
        column = np.full(n, np.nan)
        column[summary.customers] = getattr(summary, name)
        columns[name] = column
    return PurchaseSummary(customers=np.arange(n), **columns)


def bought(summaries: PurchaseSummary) -> np.ndarray:
    return ~np.isnan(summaries.frequency)


def customer_summaries(summaries: PurchaseSummary) -> list[CustomerSummary | None]:
    return [None if math.isnan(values[0]) else CustomerSummary(*values)
            for values in zip(*(getattr(summaries, name).tolist() for name in SUMMARY_FIELDS))]


def summarise(lines: list[tuple[int, int]], *, as_of_day: float) -> CustomerSummary | None:
    return customer_summaries(summary_columns([lines], as_of_day=as_of_day))[0]


def predictions_of(calibration: Calibration, summaries: PurchaseSummary) -> PredictionColumns:
    """The buyers' predictions spread over all customers, NaN for the others."""
    b = bought(summaries)
    found = predict_columns(calibration, summaries.frequency[b], summaries.recency[b], summaries.T[b], summaries.monetary[b])

    def spread(values):
        if values is None:
            return None
        column = np.full(b.size, np.nan)
        column[b] = values
        return column

    return PredictionColumns(spread(found.p_alive), {h: spread(v) for h, v in found.expected_purchases.items()},
                             spread(found.expected_order_value), spread(found.clv), spread(found.clv_low), spread(found.clv_high))


def percentiles_in(grid: np.ndarray, clv: np.ndarray) -> np.ndarray:
    """The share of the calibrated population with a lower CLV (mid-rank among equal ones); NaN without."""
    if grid.size == 0:
        return np.full(clv.shape, np.nan)
    below = np.searchsorted(grid, clv, side="left")
    tied = np.searchsorted(grid, clv, side="right") - below
    return np.where(np.isnan(clv), np.nan, (below + tied / 2) / grid.size)


def tiers_of(cutoffs: TierCutoffs, *, clv: np.ndarray, percentile: np.ndarray) -> np.ndarray:
    """By amount or percentile; unrated without a CLV, or without a percentile when tiers go by it."""
    if cutoffs.by == "amount":
        measure, high, medium = clv, cutoffs.high, cutoffs.medium
    else:
        measure, high, medium = percentile, 1 - cutoffs.high, 1 - cutoffs.high - cutoffs.medium
    return np.select([np.isnan(clv) | np.isnan(measure), measure >= high, measure >= medium], [UNRATED, "high", "medium"],
                     "low").astype(object)


def rfm_codes_of(edges: RfmEdges | None, summaries: PurchaseSummary) -> list[str | None]:
    codes: list[str | None] = [None] * bought(summaries).size
    if edges is None:
        return codes
    b = np.flatnonzero(bought(summaries))
    r, f, m = rfm_scores(edges, days_since_last=summaries.T[b] - summaries.recency[b],
                         purchase_periods=summaries.frequency[b] + 1, total_spend=summaries.total_spend[b])
    for i, code in zip(b.tolist(), rfm_codes(r, f, m)):
        codes[i] = code
    return codes


def signal_columns(facts_of: list[CustomerFacts], summaries: PurchaseSummary, predictions: PredictionColumns,
                   percentile: np.ndarray, as_of: datetime) -> SignalColumns:
    """The health indicators' inputs; survey answers and complaints are few, so they are counted in a loop."""
    n = len(facts_of)
    answer_columns = {name: np.full(n, np.nan) for name in ("nps", "nps_age_days", "csat", "csat_age_days")}
    open_complaints, breached, recent = np.zeros(n), np.zeros(n), np.zeros(n)
    recent_from = as_of - timedelta(days=RECENT_COMPLAINT_DAYS)
    for i, facts in enumerate(facts_of):
        for kind in ("nps", "csat"):
            answer = facts.answers.get(kind)
            if answer is not None:
                answer_columns[kind][i] = answer.score
                answer_columns[f"{kind}_age_days"][i] = max(0.0, (as_of - answer.answered_at).total_seconds() / SECONDS_PER_DAY)
        for complaint in facts.complaints:
            is_open = complaint.status not in ("resolved", "closed")
            open_complaints[i] += is_open
            breached[i] += is_open and complaint.breached
            recent[i] += complaint.opened_at is not None and complaint.opened_at >= recent_from
    # Service is measured from a customer's first purchase or complaint: a prospect has no record of it.
    measured_service = bought(summaries) | np.array([bool(facts.complaints) for facts in facts_of], dtype=bool)
    return SignalColumns(
        clv_percentile=percentile, p_alive=predictions.p_alive, repeat_periods=summaries.frequency, tenure_days=summaries.T,
        nps=answer_columns["nps"], nps_age_days=np.nan_to_num(answer_columns["nps_age_days"]),
        csat=answer_columns["csat"], csat_age_days=np.nan_to_num(answer_columns["csat_age_days"]),
        open_complaints=np.where(measured_service, open_complaints, np.nan), breached_complaints=breached,
        recent_complaints=recent,
    )


def threshold_days(calibration: Calibration, standard: EvaluationStandard, summaries: PurchaseSummary,
                   p_alive: np.ndarray) -> np.ndarray:
    """The day number on which p_alive, as scored on whole days, first falls below the next stage
    threshold (scoring.md §3); NaN when it never will (or past the year 9999)."""
    thresholds = standard.stages
    crossing = np.full(p_alive.shape, np.nan)
    for threshold, above in ((thresholds.at_risk_below, p_alive >= thresholds.at_risk_below),
                             (thresholds.churned_below, (p_alive >= thresholds.churned_below) & (p_alive < thresholds.at_risk_below))):
        i = np.flatnonzero(above)
        if i.size:
            age = np.asarray(calibration.model.threshold_age(calibration.params, threshold, summaries.frequency[i],
                                                             summaries.recency[i]), dtype=float).reshape(-1)
            # p_alive is taken at whole days of age: below the threshold from the first whole day past the crossing.
            with np.errstate(invalid="ignore"):
                crossing[i] = summaries.first_day[i] + np.maximum(np.floor(age) + 1, summaries.T[i] + 1)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(crossing) & (crossing <= LAST_DAY), crossing, np.nan)


def score_customer(facts: CustomerFacts, *, calibration: Calibration, standard: EvaluationStandard, as_of: datetime,
                   previous_stage: str = PROSPECT, purchased: bool = False) -> Scorecard:
    return _scorecards([facts], [previous_stage], lambda summaries: np.array([purchased]),
                       calibration=calibration, standard=standard, as_of=as_of)[0]


@dataclass(frozen=True)
class StoredCard:
    """What the stored card of a customer said, as far as the next card depends on it."""

    stage: str = PROSPECT
    last_purchase_day: int | None = None


def score_customers(customers: list[tuple[CustomerFacts, StoredCard]], *, calibration: Calibration,
                    standard: EvaluationStandard, as_of: datetime) -> list[Scorecard]:
    """Many customers at once; a new latest purchase period counts as a purchase for the stage (from
    at_risk or churned, a reactivation)."""
    stored_last = np.array([np.nan if stored.last_purchase_day is None else stored.last_purchase_day for _, stored in customers],
                           dtype=float)

    def purchased(summaries: PurchaseSummary) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return bought(summaries) & (np.isnan(stored_last) | (summaries.last_day > stored_last))

    return _scorecards([facts for facts, _ in customers], [stored.stage for _, stored in customers], purchased,
                       calibration=calibration, standard=standard, as_of=as_of)


def _scorecards(facts_of: list[CustomerFacts], previous_stages: list[str], purchased, *, calibration: Calibration,
                standard: EvaluationStandard, as_of: datetime) -> list[Scorecard]:
    if not facts_of:
        return []
    summaries = summary_columns([facts.purchase_lines for facts in facts_of], as_of_day=math.floor(day_number(as_of)))
    predictions = predictions_of(calibration, summaries)
    percentile = percentiles_in(calibration.clv_grid, predictions.clv)
    health = health_scores(signal_columns(facts_of, summaries, predictions, percentile, as_of), standard)
    periods = np.where(bought(summaries), np.nan_to_num(summaries.frequency) + 1, 0)
    stages, reactivated = next_stages(np.array(previous_stages, dtype=object), purchase_periods=periods,
                                      p_alive=predictions.p_alive, purchased=purchased(summaries), thresholds=standard.stages)
    tiers = tiers_of(standard.tiers, clv=predictions.clv, percentile=percentile).tolist()
    rfm = rfm_codes_of(calibration.rfm_edges, summaries)
    crossing = threshold_days(calibration, standard, summaries, predictions.p_alive).tolist()
    return [
        Scorecard(as_of=as_of, summary=summary, predictions=predicted, clv_percentile=None if math.isnan(share) else share,
                  rfm=code, health=explanation, tier=tier, stage=stage, reactivated=again,
                  next_threshold_at=None if math.isnan(day) else moment_of(day))
        for summary, predicted, share, code, explanation, tier, stage, again, day in zip(
            customer_summaries(summaries), predictions.all(), percentile.tolist(), rfm, health.explanations(), tiers, stages,
            reactivated.tolist(), crossing)
    ]


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
