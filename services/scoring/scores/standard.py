"""The evaluation standard (scoring.md §5-6): indicators and weights, tier cut-offs and stage
thresholds, as a plain versioned value. Every stored score names the version that produced it."""

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from types import MappingProxyType

INDICATORS = ("value", "activity", "loyalty", "satisfaction", "service")
TIER_BASES = ("percentile", "amount")
WEIGHT_SUM_TOLERANCE = 1e-9


class InvalidStandard(ValueError):
    """Names the offending field, e.g. `weights.value: must be >= 0`."""

    def __init__(self, field_name: str, problem: str):
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name


@dataclass(frozen=True)
class TierCutoffs:
    """By percentile: `high` is the top share and `medium` the next; by amount: the lowest CLV of each."""

    by: str = "percentile"
    high: float = 0.2
    medium: float = 0.3


@dataclass(frozen=True)
class StageThresholds:
    at_risk_below: float = 0.5
    churned_below: float = 0.2


@dataclass(frozen=True)
class IndicatorSettings:
    # Repeat periods and tenure each give half the loyalty sub-score, saturating at these scales.
    loyalty_repeat_scale: float = 5.0
    loyalty_tenure_days: float = 365.0
    # An answer's distance from neutral halves every half-life.
    satisfaction_half_life_days: float = 90.0
    service_open_penalty: float = 10.0
    service_breached_penalty: float = 25.0
    service_recent_penalty: float = 5.0


DEFAULT_WEIGHTS = {"value": 0.25, "activity": 0.25, "loyalty": 0.15, "satisfaction": 0.20, "service": 0.15}


@dataclass(frozen=True)
class EvaluationStandard:
    # An integer, as the public contract's `standard_version` is: the service numbers versions 1, 2, ...
    version: int = 1
    weights: Mapping[str, float] = field(default_factory=lambda: MappingProxyType(dict(DEFAULT_WEIGHTS)))
    tiers: TierCutoffs = TierCutoffs()
    stages: StageThresholds = StageThresholds()
    indicators: IndicatorSettings = IndicatorSettings()
    score_change_step: float = 5.0

    @classmethod
    def from_dict(cls, data: Mapping) -> "EvaluationStandard":
        """Validated; missing parts take the defaults. Raises InvalidStandard naming the field."""
        _refuse_unknown("", data, {f.name for f in fields(cls)})
        defaults = cls()
        standard = cls(
            version=_version(data.get("version", defaults.version)),
            weights=MappingProxyType(_weights(data.get("weights", defaults.weights))),
            tiers=_section("tiers", TierCutoffs, data.get("tiers", {})),
            stages=_section("stages", StageThresholds, data.get("stages", {})),
            indicators=_section("indicators", IndicatorSettings, data.get("indicators", {})),
            score_change_step=_number("score_change_step", data.get("score_change_step", defaults.score_change_step)),
        )
        _check_tiers(standard.tiers)
        _check_stages(standard.stages)
        _check_positive("indicators", asdict(standard.indicators))
        if standard.score_change_step <= 0:
            raise InvalidStandard("score_change_step", "must be > 0")
        return standard

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "weights": dict(self.weights),
            "tiers": asdict(self.tiers),
            "stages": asdict(self.stages),
            "indicators": asdict(self.indicators),
            "score_change_step": self.score_change_step,
        }


def _refuse_unknown(prefix: str, data, known: set[str]) -> None:
    if not isinstance(data, Mapping):
        raise InvalidStandard(prefix.rstrip(".") or "standard", "must be a mapping")
    for name in data:
        if name not in known:
            raise InvalidStandard(f"{prefix}{name}", "unknown field")


def _version(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidStandard("version", f"must be a whole number >= 1, got {value!r}")
    return value


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidStandard(name, f"must be a number, got {value!r}")
    return float(value)


def _weights(data) -> dict[str, float]:
    if not isinstance(data, Mapping):
        raise InvalidStandard("weights", "must be a mapping of indicator to weight")
    weights = {}
    for name, value in data.items():
        if name not in INDICATORS:
            raise InvalidStandard(f"weights.{name}", f"unknown indicator (known: {', '.join(INDICATORS)})")
        weights[name] = _number(f"weights.{name}", value)
        if weights[name] < 0:
            raise InvalidStandard(f"weights.{name}", "must be >= 0")
    total = math.fsum(weights.values())
    if abs(total - 1) > WEIGHT_SUM_TOLERANCE:
        raise InvalidStandard("weights", f"must sum to 1, got {total:g}")
    return weights


def _section(name: str, kind, data):
    _refuse_unknown(f"{name}.", data, {f.name for f in fields(kind)})
    values = {key: value if key == "by" else _number(f"{name}.{key}", value) for key, value in data.items()}
    return kind(**values)


def _check_tiers(tiers: TierCutoffs) -> None:
    if tiers.by not in TIER_BASES:
        raise InvalidStandard("tiers.by", f"must be one of {', '.join(TIER_BASES)}, got {tiers.by!r}")
    if tiers.by == "percentile":
        if not 0 < tiers.high < 1:
            raise InvalidStandard("tiers.high", "must be a share between 0 and 1")
        if not 0 <= tiers.medium <= 1 - tiers.high:
            raise InvalidStandard("tiers.medium", "must be a share between 0 and 1 - tiers.high")
    elif not tiers.high > tiers.medium >= 0:
        raise InvalidStandard("tiers.medium", "must be >= 0 and below tiers.high")


def _check_stages(stages: StageThresholds) -> None:
    if not 0 < stages.at_risk_below < 1:
        raise InvalidStandard("stages.at_risk_below", "must be a probability between 0 and 1")
    if not 0 < stages.churned_below < stages.at_risk_below:
        raise InvalidStandard("stages.churned_below", "must be above 0 and below stages.at_risk_below")


def _check_positive(prefix: str, values: dict) -> None:
    for name, value in values.items():
        if value <= 0:
            raise InvalidStandard(f"{prefix}.{name}", "must be > 0")


DEFAULT_STANDARD = EvaluationStandard()
