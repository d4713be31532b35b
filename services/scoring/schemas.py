"""Request and response models of the scoring API."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Tier = Literal["high", "medium", "low", "unrated"]
Stage = Literal["prospect", "new", "active", "at_risk", "churned"]


class Summary(BaseModel):
    """The purchase summary as lifetimes names it (days)."""

    frequency: float
    recency: float
    T: float
    monetary: float
    total_spend: float
    first_purchase_at: datetime
    last_purchase_at: datetime


class Interval(BaseModel):
    low: float
    high: float
    level: float = 0.9


class IndicatorOut(BaseModel):
    indicator: str
    raw: dict | None
    sub_score: float | None
    weight: float
    effective_weight: float
    contribution: float


class HealthOut(BaseModel):
    score: float | None
    standard_version: int
    indicators: list[IndicatorOut]
    left_out: list[str] = Field(description="Indicators without data; the others' weights were renormalised.")


class ScoreOut(BaseModel):
    customer_id: str
    as_of: datetime
    summary: Summary | None
    p_alive: float | None
    expected_purchases: dict[str, float] | None = Field(description="Keyed by horizon in days: 30, 90, 365.")
    expected_order_value: float | None
    clv: float | None
    clv_interval: Interval | None = Field(description="None while the configured priors are in use.")
    clv_percentile: float | None
    rfm: str | None
    health: HealthOut
    tier: Tier
    stage: Stage
    next_threshold_at: datetime | None
    model_fit_id: int | None


class ScoreChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    changed_at: datetime
    reason: str
    backfill: bool
    standard_version: int
    health: float | None
    previous_health: float | None
    clv: float | None
    p_alive: float | None
    tier: Tier
    previous_tier: Tier | None
    stage: Stage
    previous_stage: Stage | None
    reactivated: bool
    why: list[dict]


class ScoreListItem(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    customer_id: str
    scored_at: datetime
    health: float | None
    p_alive: float | None
    clv: float | None
    rfm: str | None
    tier: Tier
    stage: Stage
    standard_version: int
    next_threshold_at: datetime | None


class FitOut(BaseModel):
    id: int
    model: str
    status: Literal["fitted", "priors", "not_converged"]
    in_use: bool
    as_of: datetime
    fitted_at: datetime
    population: int
    converged: bool
    log_likelihood: float | None
    message: str
    parameters: dict[str, float]
    standard_errors: dict[str, float | None] | None
    order_value_parameters: dict[str, float] = Field(description="Gamma-Gamma's p, q, v.")
    order_value_standard_errors: dict[str, float | None] | None


class ModelStatus(BaseModel):
    in_use: FitOut | None = Field(description="None until the first calibration: the configured priors are used.")
    latest: FitOut | None = Field(description="The newest attempt, which may not have converged.")


class RefitRequest(BaseModel):
    as_of: datetime | None = None
    model: Literal["mbgnbd", "bgnbd"] | None = None


class StandardOut(BaseModel):
    version: int
    weights: dict[str, float]
    tiers: dict
    stages: dict
    indicators: dict
    score_change_step: float


class StandardIn(BaseModel):
    """A new version of the standard; missing parts take the defaults. Its version is given by the service."""

    model_config = ConfigDict(extra="allow")


class StatsOut(BaseModel):
    customers: int
    purchases: int
    events_applied: int
    last_event_at: datetime | None
    consumer_lag: int | None = Field(description="Messages not yet read, when the bus can tell (Kafka).")
