"""The health score (scoring.md §5): a weighted sum of indicator sub-scores, with its explanation.

Each indicator's contribution is its effective weight times its sub-score, and the score is the
sum of the contributions, so an explanation always adds up to the score it explains. An
indicator without data is left out and the weights of the others are renormalised.
"""

import math
from dataclasses import dataclass

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


def _value(signals: CustomerSignals, settings: IndicatorSettings):
    if signals.clv_percentile is None:
        return None, None
    return {"clv_percentile": signals.clv_percentile}, 100 * signals.clv_percentile


def _activity(signals: CustomerSignals, settings: IndicatorSettings):
    if signals.p_alive is None:
        return None, None
    return {"p_alive": signals.p_alive}, 100 * signals.p_alive


def _loyalty(signals: CustomerSignals, settings: IndicatorSettings):
    if signals.repeat_periods is None or signals.tenure_days is None:
        return None, None
    repeats = 1 - math.exp(-signals.repeat_periods / settings.loyalty_repeat_scale)
    tenure = 1 - math.exp(-signals.tenure_days / settings.loyalty_tenure_days)
    raw = {"repeat_periods": signals.repeat_periods, "tenure_days": signals.tenure_days}
    return raw, 50 * repeats + 50 * tenure


def _decayed(score: float, age_days: float, half_life_days: float) -> float:
    """An old answer says less: its distance from neutral halves every half-life."""
    return NEUTRAL + (score - NEUTRAL) * 0.5 ** (age_days / half_life_days)


def _satisfaction(signals: CustomerSignals, settings: IndicatorSettings):
    half_life = settings.satisfaction_half_life_days
    answers, raw = [], {}
    if signals.nps is not None:
        answers.append(_decayed(10 * signals.nps, signals.nps_age_days, half_life))
        raw |= {"nps": signals.nps, "nps_age_days": signals.nps_age_days}
    if signals.csat is not None:
        answers.append(_decayed(25 * (signals.csat - 1), signals.csat_age_days, half_life))
        raw |= {"csat": signals.csat, "csat_age_days": signals.csat_age_days}
    return (raw, math.fsum(answers) / len(answers)) if answers else (None, None)


def _service(signals: CustomerSignals, settings: IndicatorSettings):
    if signals.open_complaints is None:
        return None, None
    penalty = (
        settings.service_open_penalty * signals.open_complaints
        + settings.service_breached_penalty * signals.breached_complaints
        + settings.service_recent_penalty * signals.recent_complaints
    )
    raw = {
        "open_complaints": signals.open_complaints,
        "breached_complaints": signals.breached_complaints,
        "recent_complaints": signals.recent_complaints,
    }
    return raw, max(0.0, 100 - penalty)


SUB_SCORES = {"value": _value, "activity": _activity, "loyalty": _loyalty, "satisfaction": _satisfaction, "service": _service}


def health_score(signals: CustomerSignals, standard: EvaluationStandard) -> HealthExplanation:
    measured = {name: SUB_SCORES[name](signals, standard.indicators) for name in INDICATORS}
    weights = {name: standard.weights.get(name, 0.0) for name in INDICATORS}
    weight_with_data = math.fsum(w for name, w in weights.items() if measured[name][1] is not None)
    explained = tuple(
        _explain(name, *measured[name], weights[name], weight_with_data) for name in INDICATORS
    )
    score = math.fsum(i.contribution for i in explained) if weight_with_data > 0 else None
    return HealthExplanation(standard.version, score, explained)


def _explain(name, raw, sub_score, weight, weight_with_data) -> IndicatorExplanation:
    effective = weight / weight_with_data if sub_score is not None and weight_with_data > 0 else 0.0
    contribution = effective * sub_score if sub_score is not None else 0.0
    return IndicatorExplanation(name, raw, sub_score, weight, effective, contribution)


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
