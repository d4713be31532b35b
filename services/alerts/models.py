"""The alerts service's tables (frozen copy in migrations/alerts_0001)."""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from services.common.timeutil import UTCDateTime


def _time(nullable: bool = False, index: bool = False):
    return Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index))


def _json(default=dict):
    return Field(default_factory=default, sa_column=sa.Column(sa.JSON, nullable=False))


class Alert(SQLModel, table=True):
    __tablename__ = "alerts"
    id: str = Field(primary_key=True, max_length=36)
    kind: str = Field(max_length=30, index=True)
    severity: str = Field(max_length=10, index=True)
    status: str = Field(max_length=15, index=True)  # open → acknowledged → resolved
    customer_id: str = Field(max_length=36, index=True)
    cause: str = Field(max_length=200)
    dedup_key: str = Field(max_length=300, index=True)
    # The de-dup key while the alert is open or acknowledged, NULL once resolved: unique, so two
    # consumers racing on the same cause cannot both open an alert.
    open_key: str | None = Field(default=None, max_length=300, unique=True)
    rule: str = Field(max_length=30)
    rule_version: int
    facts: dict = _json()
    due_at: datetime | None = _time(nullable=True)
    detected_at: datetime = _time()
    created_at: datetime = _time(index=True)
    acknowledged_at: datetime | None = _time(nullable=True)
    acknowledged_by: str | None = Field(default=None, max_length=200)  # principal.subject
    resolved_at: datetime | None = _time(nullable=True)
    resolved_by: str | None = Field(default=None, max_length=200)  # principal.subject, or "system"
    resolution: str | None = Field(default=None, max_length=30)  # why: manual, purchase, interaction, …
    note: str | None = Field(default=None, max_length=2000)  # free text: never on the bus


class AlertRuleVersion(SQLModel, table=True):
    __tablename__ = "alert_rule_versions"
    version: int = Field(primary_key=True)
    rules: dict = _json()
    created_at: datetime = _time()
    created_by: str = Field(max_length=200)


class CustomerView(SQLModel, table=True):
    """What the alerts need to know of a customer, kept from the events (never asked for)."""

    __tablename__ = "alert_customers"
    customer_id: str = Field(primary_key=True, max_length=36)
    tier: str = Field(default="unrated", max_length=10)
    stage: str | None = Field(default=None, max_length=10)
    p_alive: float | None = None
    health: float | None = None
    clv: float | None = None
    last_interaction_at: datetime | None = _time(nullable=True)
    last_purchase_at: datetime | None = _time(nullable=True)
    updated_at: datetime = _time()


class Webhook(SQLModel, table=True):
    __tablename__ = "webhooks"
    id: str = Field(primary_key=True, max_length=36)
    kind: str = Field(max_length=10)  # standard, wecom, dingtalk, feishu
    url_enc: str  # robot URLs carry their access token: encrypted like the secret
    url_display: str = Field(max_length=300)
    secret_enc: str | None = None
    alert_kinds: list = _json(list)
    min_severity: str = Field(max_length=10)
    rate_per_minute: int
    enabled: bool = True
    disabled_reason: str | None = Field(default=None, max_length=200)
    consecutive_failures: int = 0
    next_send_at: datetime | None = _time(nullable=True)
    created_at: datetime = _time(index=True)
    created_by: str = Field(max_length=200)


class WebhookDelivery(SQLModel, table=True):
    """One event to one endpoint: pending until a try succeeds or the tries run out."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (sa.Index("ix_webhook_deliveries_due", "webhook_id", "status", "next_attempt_at"),)
    id: str = Field(primary_key=True, max_length=36)
    webhook_id: str = Field(foreign_key="webhooks.id", max_length=36, index=True)
    event_id: str = Field(max_length=36)
    event_type: str = Field(max_length=100)
    alert_id: str | None = Field(default=None, max_length=36)
    body: dict = _json()
    status: str = Field(max_length=10)  # pending, delivered, failed
    attempts: int = 0
    next_attempt_at: datetime | None = _time(nullable=True, index=True)
    created_at: datetime = _time(index=True)
    delivered_at: datetime | None = _time(nullable=True)


class WebhookAttempt(SQLModel, table=True):
    __tablename__ = "webhook_attempts"
    id: str = Field(primary_key=True, max_length=36)
    delivery_id: str = Field(foreign_key="webhook_deliveries.id", max_length=36, index=True)
    number: int
    attempted_at: datetime = _time()
    outcome: str = Field(max_length=20)  # delivered, http_error, timeout, network_error, rejected
    status_code: int | None = None
    duration_ms: int
    error: str | None = Field(default=None, max_length=300)
