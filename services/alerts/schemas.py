"""Request and response bodies of the alerts API."""

from datetime import datetime
from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from services.alerts.rules.config import RuleSet, Severity

AlertKind = Literal["churn_risk", "follow_up_due", "sla_warning", "sla_breached", "detractor"]
AlertStatus = Literal["open", "acknowledged", "resolved"]
WebhookKind = Literal["standard", "wecom", "dingtalk", "feishu"]


class AlertOut(BaseModel):
    id: str
    kind: str
    severity: str
    status: str
    customer_id: str
    rule: str
    rule_version: int
    dedup_key: str
    facts: dict
    due_at: datetime | None
    detected_at: datetime
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None
    note: str | None = Field(description="Free text: shown to roles that may read notes, null for analysts.")


class AlertChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=2000)


class RulesOut(BaseModel):
    version: int = Field(description="0: the built-in defaults, never changed through the API.")
    rules: RuleSet
    created_at: datetime | None = None
    created_by: str | None = None


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: WebhookKind = "standard"
    url: AnyHttpUrl
    alert_kinds: list[AlertKind] = Field(default=[], description="Empty: every kind.")
    min_severity: Severity = "info"
    secret: str | None = Field(default=None, max_length=200,
                               description="DingTalk's SEC… or Feishu's signing secret; standard endpoints get one made for them.")
    rate_per_minute: int | None = Field(default=None, ge=1, le=60000,
                                        description="Requests a minute at most; defaults: 600, and the robots' documented limits.")


class WebhookOut(BaseModel):
    id: str
    kind: str
    url: str = Field(description="With its query string hidden: robot URLs carry their access token there.")
    alert_kinds: list[str]
    min_severity: str
    rate_per_minute: int
    enabled: bool
    disabled_reason: str | None
    consecutive_failures: int
    created_at: datetime
    has_secret: bool


class WebhookCreated(WebhookOut):
    secret: str | None = Field(description="Shown this once; stored encrypted.")


class AttemptOut(BaseModel):
    number: int
    attempted_at: datetime
    outcome: str
    status_code: int | None
    duration_ms: int
    error: str | None


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    event_type: str
    alert_id: str | None
    status: str
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    tries: list[AttemptOut]


class TestQueued(BaseModel):
    delivery_id: str
