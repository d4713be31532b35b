"""Alerts, rule versions, the customers' tier and stage as seen from events, webhooks and their deliveries.

Revision ID: alerts_0001
Revises: common_0001
"""

import sqlalchemy as sa
from alembic import op

from services.common.timeutil import UTCDateTime

revision = "alerts_0001"
down_revision = "common_0001"
branch_labels = ("alerts",)
depends_on = None


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, UTCDateTime(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(30), nullable=False, index=True),
        sa.Column("severity", sa.String(10), nullable=False, index=True),
        sa.Column("status", sa.String(15), nullable=False, index=True),
        sa.Column("customer_id", sa.String(36), nullable=False, index=True),
        sa.Column("cause", sa.String(200), nullable=False),
        sa.Column("dedup_key", sa.String(300), nullable=False, index=True),
        sa.Column("open_key", sa.String(300), nullable=True, unique=True),
        sa.Column("rule", sa.String(30), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        _time("due_at", nullable=True),
        _time("detected_at"),
        _time("created_at"),
        _time("acknowledged_at", nullable=True),
        sa.Column("acknowledged_by", sa.String(200), nullable=True),
        _time("resolved_at", nullable=True),
        sa.Column("resolved_by", sa.String(200), nullable=True),
        sa.Column("resolution", sa.String(30), nullable=True),
        sa.Column("note", sa.String(2000), nullable=True),
    )
    op.create_index("ix_alerts_created_at", "alerts", ["created_at"])
    op.create_table(
        "alert_rule_versions",
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        _time("created_at"),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "alert_customers",
        sa.Column("customer_id", sa.String(36), primary_key=True),
        sa.Column("tier", sa.String(10), nullable=False),
        sa.Column("stage", sa.String(10), nullable=True),
        sa.Column("p_alive", sa.Float(), nullable=True),
        sa.Column("health", sa.Float(), nullable=True),
        sa.Column("clv", sa.Float(), nullable=True),
        _time("last_interaction_at", nullable=True),
        _time("last_purchase_at", nullable=True),
        _time("updated_at"),
    )
    op.create_table(
        "webhooks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("url_enc", sa.Text(), nullable=False),
        sa.Column("url_display", sa.String(300), nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=True),
        sa.Column("alert_kinds", sa.JSON(), nullable=False),
        sa.Column("min_severity", sa.String(10), nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(200), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        _time("next_send_at", nullable=True),
        _time("created_at"),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_webhooks_created_at", "webhooks", ["created_at"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("webhook_id", sa.String(36), sa.ForeignKey("webhooks.id"), nullable=False, index=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("alert_id", sa.String(36), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("next_attempt_at", nullable=True),
        _time("created_at"),
        _time("delivered_at", nullable=True),
    )
    op.create_index("ix_webhook_deliveries_next_attempt_at", "webhook_deliveries", ["next_attempt_at"])
    op.create_index("ix_webhook_deliveries_created_at", "webhook_deliveries", ["created_at"])
    # The delivery job's question: what of this endpoint is pending and due.
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["webhook_id", "status", "next_attempt_at"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("delivery_id", sa.String(36), sa.ForeignKey("webhook_deliveries.id"), nullable=False, index=True),
        sa.Column("number", sa.Integer(), nullable=False),
        _time("attempted_at"),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(300), nullable=True),
    )
