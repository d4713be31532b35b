"""The configurable rules (GET/PUT /v1/alert-rules); each PUT stores a new version."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Tier = Literal["high", "medium", "low", "unrated"]
Severity = Literal["info", "warning", "critical"]
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True


class ChurnRule(_Rule):
    tiers: list[Tier] = Field(default=["high", "medium"], description="Only customers of these tiers raise churn alerts.")
    stages: list[Literal["at_risk", "churned"]] = ["at_risk", "churned"]
    p_alive_below: float | None = Field(default=0.3, ge=0, le=1, description="From score.updated; null switches it off.")
    severity_by_tier: dict[Tier, Severity] = {"high": "critical", "medium": "warning", "low": "info", "unrated": "info"}
    quiet_period_hours: float = Field(default=7 * 24, ge=0, description="No new churn alert this long after the last one.")


class FollowUpRule(_Rule):
    interval_days: dict[Tier, float] = Field(default={"high": 30, "medium": 90}, description="Tiers not listed get no follow-up timer.")
    severity_by_tier: dict[Tier, Severity] = {"high": "warning", "medium": "info", "low": "info", "unrated": "info"}
    quiet_period_hours: float = Field(default=0, ge=0)


class SlaRule(_Rule):
    warning_severity: Severity = "warning"
    breach_severity: Severity = "critical"
    quiet_period_hours: float = Field(default=0, ge=0)


class DetractorRule(_Rule):
    tiers: list[Tier] = ["high", "medium"]
    nps_max: int = Field(default=6, ge=0, le=10, description="NPS answers 0..nps_max are detractors.")
    csat_max: int = Field(default=2, ge=1, le=5, description="CSAT answers 1..csat_max (of 5) are detractors.")
    severity_by_tier: dict[Tier, Severity] = {"high": "critical", "medium": "warning", "low": "info", "unrated": "info"}
    quiet_period_hours: float = Field(default=24, ge=0)


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    churn_risk: ChurnRule = ChurnRule()
    follow_up_due: FollowUpRule = FollowUpRule()
    complaint_sla: SlaRule = SlaRule()
    detractor: DetractorRule = DetractorRule()


def severity_for(by_tier: dict[str, str], tier: str) -> str:
    return by_tier.get(tier, "info")
