"""The scoring service's tables (see migrations/scoring_0001_state).

A customer's inputs are kept as facts (purchase lines, survey answers, complaints) rather than as
running totals, so that applying the same events in any order gives the same numbers; the current
score is derived from them and kept beside its history.
"""

import sqlalchemy as sa

from services.common.timeutil import UTCDateTime

metadata = sa.MetaData()
BIGINT = sa.BigInteger()
ID = sa.String(36)

# One row per customer the service has heard of. A merged duplicate keeps its row, pointing at the
# survivor, so that its late events still land on the survivor.
customers = sa.Table(
    "scoring_customers", metadata,
    sa.Column("customer_id", ID, primary_key=True),
    sa.Column("merged_into", ID, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=True),
    sa.Column("erased_at", UTCDateTime(), nullable=True),
    sa.Column("interactions", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("last_interaction_at", UTCDateTime(), nullable=True),
    sa.Column("feedback_received", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("negative_feedback", sa.Integer(), nullable=False, server_default="0"),
)

# A purchase adds its amount to its day; a refund takes its amount off the day of its purchase.
# Amounts are whole ten-thousandths of the currency (scores.summary.UNITS_PER_CURRENCY).
purchase_lines = sa.Table(
    "scoring_purchase_lines", metadata,
    sa.Column("kind", sa.String(10), primary_key=True),  # purchase | refund
    sa.Column("line_id", sa.String(200), primary_key=True),  # the purchase id or the refund id
    sa.Column("customer_id", ID, nullable=False, index=True),
    sa.Column("purchase_id", sa.String(200), nullable=False),
    sa.Column("day", sa.Integer(), nullable=False),  # days since 1970-01-01 (UTC) of the purchase
    sa.Column("units", BIGINT, nullable=False),  # negative for a refund
    sa.Column("occurred_at", UTCDateTime(), nullable=False),
)

# The latest answer of each kind wins, whatever order the answers arrive in.
survey_answers = sa.Table(
    "scoring_survey_answers", metadata,
    sa.Column("customer_id", ID, primary_key=True),
    sa.Column("kind", sa.String(10), primary_key=True),  # nps | csat | ces
    sa.Column("response_id", sa.String(100), nullable=False),
    sa.Column("score", sa.Integer(), nullable=False),
    sa.Column("answered_at", UTCDateTime(), nullable=False),
)

survey_responses = sa.Table(
    "scoring_survey_responses", metadata,
    sa.Column("response_id", sa.String(100), primary_key=True),
    sa.Column("customer_id", ID, nullable=False, index=True),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("score", sa.Integer(), nullable=False),
    sa.Column("answered_at", UTCDateTime(), nullable=False, index=True),
)

# Each complaint's latest known state (by changed_at).
complaints = sa.Table(
    "scoring_complaints", metadata,
    sa.Column("complaint_id", sa.String(100), primary_key=True),
    sa.Column("customer_id", ID, nullable=False, index=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("breached", sa.Boolean(), nullable=False),
    sa.Column("opened_at", UTCDateTime(), nullable=True),
    sa.Column("resolved_at", UTCDateTime(), nullable=True),
    sa.Column("changed_at", UTCDateTime(), nullable=False),
    # As the SLA clocks counted them (business time, pauses left out): scoring_0002.
    sa.Column("first_response_seconds", sa.Float(), nullable=True),
    sa.Column("resolution_seconds", sa.Float(), nullable=True),
)

# The current score of every customer.
scores = sa.Table(
    "scoring_scores", metadata,
    sa.Column("customer_id", ID, primary_key=True),
    sa.Column("scored_at", UTCDateTime(), nullable=False),
    sa.Column("fit_id", sa.Integer(), nullable=True),
    sa.Column("standard_version", sa.Integer(), nullable=False),
    sa.Column("purchase_periods", sa.Integer(), nullable=False),
    sa.Column("first_purchase_day", sa.Integer(), nullable=True),
    sa.Column("last_purchase_day", sa.Integer(), nullable=True),
    sa.Column("total_spend", sa.Float(), nullable=False),
    sa.Column("frequency", sa.Float(), nullable=True),
    sa.Column("recency", sa.Float(), nullable=True),
    sa.Column("T", sa.Float(), nullable=True),
    sa.Column("monetary", sa.Float(), nullable=True),
    sa.Column("p_alive", sa.Float(), nullable=True, index=True),
    sa.Column("expected_purchases_30", sa.Float(), nullable=True),
    sa.Column("expected_purchases_90", sa.Float(), nullable=True),
    sa.Column("expected_purchases_365", sa.Float(), nullable=True),
    sa.Column("expected_order_value", sa.Float(), nullable=True),
    sa.Column("clv", sa.Float(), nullable=True, index=True),
    sa.Column("clv_low", sa.Float(), nullable=True),
    sa.Column("clv_high", sa.Float(), nullable=True),
    sa.Column("rfm", sa.String(3), nullable=True),
    sa.Column("health", sa.Float(), nullable=True, index=True),
    sa.Column("reported_health", sa.Float(), nullable=True),  # as last published in score.updated
    sa.Column("explanation", sa.JSON(), nullable=False),
    sa.Column("tier", sa.String(10), nullable=False, index=True),
    sa.Column("stage", sa.String(10), nullable=False, index=True),
    sa.Column("next_threshold_at", UTCDateTime(), nullable=True),
)

# Score history: a row whenever the health moved by more than the step, or the tier or stage moved.
score_changes = sa.Table(
    "scoring_score_changes", metadata,
    sa.Column("id", BIGINT.with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("customer_id", ID, nullable=False, index=True),
    sa.Column("changed_at", UTCDateTime(), nullable=False),
    sa.Column("reason", sa.String(30), nullable=False),  # purchase, refund, survey, complaint, timer, refit, standard, ...
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
    sa.Column("why", sa.JSON(), nullable=False),  # each indicator's share of the health move
)

# Every calibration, with its statistics; the newest usable one (in_use) scores customers.
model_fits = sa.Table(
    "scoring_model_fits", metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # fitted | priors | not_converged
    sa.Column("in_use", sa.Boolean(), nullable=False),
    sa.Column("as_of", UTCDateTime(), nullable=False),
    sa.Column("fitted_at", UTCDateTime(), nullable=False),
    sa.Column("population", sa.Integer(), nullable=False),
    sa.Column("converged", sa.Boolean(), nullable=False),
    sa.Column("log_likelihood", sa.Float(), nullable=True),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Column("purchase", sa.JSON(), nullable=False),  # params, standard errors, log-param covariance
    sa.Column("order_value", sa.JSON(), nullable=False),  # the same for Gamma-Gamma
    sa.Column("clv_grid", sa.JSON(), nullable=False),  # CLV quantiles of the population, for percentiles
    sa.Column("rfm_edges", sa.JSON(), nullable=False),
)

evaluation_standards = sa.Table(
    "scoring_evaluation_standards", metadata,
    sa.Column("version", sa.Integer(), primary_key=True),
    sa.Column("body", sa.JSON(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("created_by", sa.String(36), nullable=True),
)
