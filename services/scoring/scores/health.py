"""The health score (scoring.md §5): a weighted sum of indicator sub-scores, with its explanation.

Each indicator's contribution is its effective weight times its sub-score, and the score is the
sum of the contributions, so an explanation always adds up to the score it explains. An
indicator without data is left out and the weights of the others are renormalised.
"""

import math
from dataclasses import dataclass, fields

import numpy as np

from services.scoring.scores.standard import INDICATORS, EvaluationStandard, IndicatorSettings

NEUTRAL = 50.0


@dataclass(frozen=True)
class CustomerSignals:
    """What the indicators are computed from; None where there is no data."""

    clv_percentile: float | None = None  # share of the population with a lower CLV, 0..1
    p_alive: float | None = None
    repeat_periods: float | None = None
    tenure_days: float | None = None
    nps: float | None = None  # latest answer, 0..10
    nps_age_days: float = 0.0
    csat: float | None = None  # latest answer, 1..5
    csat_age_days: float = 0.0
    open_complaints: int | None = None
    breached_complaints: int = 0
    recent_complaints: int = 0


@dataclass(frozen=True)
class IndicatorExplanation:
    indicator: str
    raw: dict | None
    sub_score: float | None
    weight: float  # as the standard sets it
    effective_weight: float  # renormalised over the indicators with data
    contribution: float

    @property
    def has_data(self) -> bool:
        return self.sub_score is not None


@dataclass(frozen=True)
class HealthExplanation:
    standard_version: int
    score: float | None  # None when no weighted indicator has data
    indicators: tuple[IndicatorExplanation, ...]

    @property
    def left_out(self) -> tuple[str, ...]:
        return tuple(i.indicator for i in self.indicators if i.weight > 0 and not i.has_data)

    def indicator(self, name: str) -> IndicatorExplanation:
        return next(i for i in self.indicators if i.indicator == name)


@dataclass(frozen=True)
class SignalColumns:
    """Many customers' signals as arrays, NaN where a signal is None."""

    clv_percentile: np.ndarray
    p_alive: np.ndarray
    repeat_periods: np.ndarray
    tenure_days: np.ndarray
    nps: np.ndarray
    nps_age_days: np.ndarray
    csat: np.ndarray
    csat_age_days: np.ndarray
    open_complaints: np.ndarray
    breached_complaints: np.ndarray
    recent_complaints: np.ndarray

    @classmethod
    def of(cls, signals: list[CustomerSignals]) -> "SignalColumns":
        return cls(*(np.array([_nan_for_none(getattr(s, name)) for s in signals], dtype=float) for name in SIGNAL_NAMES))


def _nan_for_none(value):
    return math.nan if value is None else value


def _sub_scores(c: SignalColumns, settings: IndicatorSettings) -> dict[str, np.ndarray]:
    """Each indicator's sub-score per customer, NaN without data."""
    with np.errstate(invalid="ignore"):
        loyalty = 50 * -np.expm1(-c.repeat_periods / settings.loyalty_repeat_scale) \
            + 50 * -np.expm1(-c.tenure_days / settings.loyalty_tenure_days)
        nps = _decayed(10 * c.nps, c.nps_age_days, settings.satisfaction_half_life_days)
        csat = _decayed(25 * (c.csat - 1), c.csat_age_days, settings.satisfaction_half_life_days)
        answered = np.isfinite(nps).astype(float) + np.isfinite(csat)
        satisfaction = (np.nan_to_num(nps) + np.nan_to_num(csat)) / np.where(answered > 0, answered, np.nan)
        penalty = settings.service_open_penalty * c.open_complaints + settings.service_breached_penalty * c.breached_complaints \
            + settings.service_recent_penalty * c.recent_complaints
        service = np.where(np.isnan(c.open_complaints), np.nan, np.maximum(0.0, 100 - penalty))
    return {"value": 100 * c.clv_percentile, "activity": 100 * c.p_alive, "loyalty": loyalty,
            "satisfaction": satisfaction, "service": service}


def _decayed(score, age_days, half_life_days):
    """An old answer says less: its distance from neutral halves every half-life."""
    return NEUTRAL + (score - NEUTRAL) * 0.5 ** (age_days / half_life_days)


@dataclass(frozen=True)
class HealthColumns:
    """Many customers' health: sub-scores, effective weights and contributions per indicator
    (customers × INDICATORS), and the score (NaN when no weighted indicator has data)."""

    standard_version: int
    weights: np.ndarray
    sub_scores: np.ndarray
    effective_weights: np.ndarray
    contributions: np.ndarray
    score: np.ndarray
    signals: SignalColumns

    def explanations(self) -> list[HealthExplanation]:
        """One explanation per customer; the arrays are turned into Python numbers once, not per value."""
        signals = [dict(zip(SIGNAL_NAMES, values)) for values in zip(*(getattr(self.signals, name).tolist() for name in SIGNAL_NAMES))]
        weights = self.weights.tolist()
        return [
            HealthExplanation(self.standard_version, None if math.isnan(score) else score, tuple(
                IndicatorExplanation(name, None, None, weights[k], effective[k], contributions[k]) if math.isnan(sub_scores[k])
                else IndicatorExplanation(name, RAW[name](signal), sub_scores[k], weights[k], effective[k], contributions[k])
                for k, name in enumerate(INDICATORS)))
            for signal, sub_scores, effective, contributions, score in zip(
                signals, self.sub_scores.tolist(), self.effective_weights.tolist(), self.contributions.tolist(), self.score.tolist())
        ]


SIGNAL_NAMES = tuple(f.name for f in fields(CustomerSignals))


def _satisfaction_raw(s: dict) -> dict:
    raw = {}
    if not math.isnan(s["nps"]):
        raw |= {"nps": s["nps"], "nps_age_days": s["nps_age_days"]}
    if not math.isnan(s["csat"]):
        raw |= {"csat": s["csat"], "csat_age_days": s["csat_age_days"]}
    return raw


RAW = {
    "value": lambda s: {"clv_percentile": s["clv_percentile"]},
    "activity": lambda s: {"p_alive": s["p_alive"]},
    "loyalty": lambda s: {"repeat_periods": s["repeat_periods"], "tenure_days": s["tenure_days"]},
    "satisfaction": _satisfaction_raw,
    "service": lambda s: {name: int(s[name]) for name in ("open_complaints", "breached_complaints", "recent_complaints")},
}


def health_scores(signals: SignalColumns, standard: EvaluationStandard) -> HealthColumns:
    measured = _sub_scores(signals, standard.indicators)
    sub_scores = np.column_stack([measured[name] for name in INDICATORS]) if len(signals.p_alive) else np.zeros((0, len(INDICATORS)))
    weights = np.array([standard.weights.get(name, 0.0) for name in INDICATORS], dtype=float)
    has_data = ~np.isnan(sub_scores)
    weight_with_data = (has_data * weights).sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        effective = np.where(has_data & (weight_with_data > 0), weights / weight_with_data, 0.0)
    contributions = np.where(has_data, effective * np.nan_to_num(sub_scores), 0.0)
    score = np.where(weight_with_data[:, 0] > 0, contributions.sum(axis=1), np.nan)
    return HealthColumns(standard.version, weights, sub_scores, effective, contributions, score, signals)


def health_score(signals: CustomerSignals, standard: EvaluationStandard) -> HealthExplanation:
    return health_scores(SignalColumns.of([signals]), standard).explanations()[0]


@dataclass(frozen=True)
class IndicatorMove:
    indicator: str
    contribution_before: float
    contribution_after: float
    sub_score_before: float | None
    sub_score_after: float | None

    @property
    def change(self) -> float:
        return self.contribution_after - self.contribution_before


@dataclass(frozen=True)
class ScoreMove:
    """Why the score moved: each indicator's share of the change, largest first."""

    score_before: float | None
    score_after: float | None
    moves: tuple[IndicatorMove, ...]
    same_standard: bool

    @property
    def change(self) -> float:
        return math.fsum(m.change for m in self.moves)


def compare_explanations(before: HealthExplanation, after: HealthExplanation) -> ScoreMove:
    moves = [
        IndicatorMove(name, before.indicator(name).contribution, after.indicator(name).contribution,
                      before.indicator(name).sub_score, after.indicator(name).sub_score)
        for name in INDICATORS
    ]
    moves.sort(key=lambda move: -abs(move.change))
    return ScoreMove(before.score, after.score, tuple(moves), before.standard_version == after.standard_version)
