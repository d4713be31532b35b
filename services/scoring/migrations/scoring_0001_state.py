"""Scoring's state: customers, purchase lines, survey answers, complaints, current scores and their
history, model fits and evaluation standards. Frozen: later changes are new revisions.

Revision ID: scoring_0001
Revises: common_0001
"""

import sqlalchemy as sa
from alembic import op

from services.common.timeutil import UTCDateTime

revision = "scoring_0001"
down_revision = "common_0001"
branch_labels = ("scoring",)
depends_on = None

ID = sa.String(36)
BIGINT = sa.BigInteger()
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, UTCDateTime(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "scoring_customers",
        sa.Column("customer_id", ID, primary_key=True),
        sa.Column("merged_into", ID, nullable=True),
        _time("created_at"),
        _time("erased_at"),
        sa.Column("interactions", sa.Integer(), nullable=False, server_default="0"),
        _time("last_interaction_at"),
        sa.Column("feedback_received", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("negative_feedback", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "scoring_purchase_lines",
        sa.Column("kind", sa.String(10), primary_key=True),
        sa.Column("line_id", sa.String(200), primary_key=True),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("purchase_id", sa.String(200), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("units", BIGINT, nullable=False),
        _time("occurred_at", nullable=False),
    )
    op.create_index("ix_scoring_purchase_lines_customer_id", "scoring_purchase_lines", ["customer_id"])
    op.create_table(
        "scoring_survey_answers",
        sa.Column("customer_id", ID, primary_key=True),
        sa.Column("kind", sa.String(10), primary_key=True),
        sa.Column("response_id", sa.String(100), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        _time("answered_at", nullable=False),
    )
    op.create_table(
        "scoring_survey_responses",
        sa.Column("response_id", sa.String(100), primary_key=True),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        _time("answered_at", nullable=False),
    )
    op.create_index("ix_scoring_survey_responses_customer_id", "scoring_survey_responses", ["customer_id"])
    op.create_index("ix_scoring_survey_responses_answered_at", "scoring_survey_responses", ["answered_at"])
    op.create_table(
        "scoring_complaints",
        sa.Column("complaint_id", sa.String(100), primary_key=True),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("breached", sa.Boolean(), nullable=False),
        _time("opened_at"),
        _time("resolved_at"),
        _time("changed_at", nullable=False),
    )
    op.create_index("ix_scoring_complaints_customer_id", "scoring_complaints", ["customer_id"])
    _create_scores()
    _create_score_changes()
    _create_model_fits()
    op.create_table(
        "scoring_evaluation_standards",
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("body", sa.JSON(), nullable=False),
        _time("created_at", nullable=False),
        sa.Column("created_by", sa.String(36), nullable=True),
    )


def _create_scores() -> None:
    op.create_table(
        "scoring_scores",
        sa.Column("customer_id", ID, primary_key=True),
        _time("scored_at", nullable=False),
        sa.Column("fit_id", sa.Integer(), nullable=True),
        sa.Column("standard_version", sa.Integer(), nullable=False),
        sa.Column("purchase_periods", sa.Integer(), nullable=False),
        sa.Column("first_purchase_day", sa.Integer(), nullable=True),
        sa.Column("last_purchase_day", sa.Integer(), nullable=True),
        sa.Column("total_spend", sa.Float(), nullable=False),
        *(sa.Column(name, sa.Float(), nullable=True) for name in (
            "frequency", "recency", "T", "monetary", "p_alive", "expected_purchases_30", "expected_purchases_90",
            "expected_purchases_365", "expected_order_value", "clv", "clv_low", "clv_high",
        )),
        sa.Column("rfm", sa.String(3), nullable=True),
        sa.Column("health", sa.Float(), nullable=True),
        sa.Column("reported_health", sa.Float(), nullable=True),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("tier", sa.String(10), nullable=False),
        sa.Column("stage", sa.String(10), nullable=False),
        _time("next_threshold_at"),
    )
    for column in ("p_alive", "clv", "health", "tier", "stage"):
        op.create_index(f"ix_scoring_scores_{column}", "scoring_scores", [column])


def _create_score_changes() -> None:
    op.create_table(
        "scoring_score_changes",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("customer_id", ID, nullable=False),
        _time("changed_at", nullable=False),
        sa.Column("reason", sa.String(30), nullable=False),
        sa.Column("backfill", sa.Boolean(), nullable=False),
        sa.Column("standard_version", sa.Integer(), nullable=False),
        sa.Column("health", sa.Float(), nullable=True),
        sa.Column("previous_health", sa.Float(), nullable=True),
        sa.Column("clv", sa.Float(), nullable=True),
        sa.Column("p_alive", sa.Float(), nullable=True),
        sa.Column("tier", sa.String(10), nullable=False),
        sa.Column("previous_tier", sa.String(10), nullable=True),
        sa.Column("stage", sa.String(10), nullable=False),
        sa.Column("previous_stage", sa.String(10), nullable=True),
        sa.Column("reactivated", sa.Boolean(), nullable=False),
        sa.Column("why", sa.JSON(), nullable=False),
    )
    op.create_index("ix_scoring_score_changes_customer_id", "scoring_score_changes", ["customer_id"])


def _create_model_fits() -> None:
    op.create_table(
        "scoring_model_fits",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("in_use", sa.Boolean(), nullable=False),
        _time("as_of", nullable=False),
        _time("fitted_at", nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("converged", sa.Boolean(), nullable=False),
        sa.Column("log_likelihood", sa.Float(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("purchase", sa.JSON(), nullable=False),
        sa.Column("order_value", sa.JSON(), nullable=False),
        sa.Column("clv_grid", sa.JSON(), nullable=False),
        sa.Column("rfm_edges", sa.JSON(), nullable=False),
    )
