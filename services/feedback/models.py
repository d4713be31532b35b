"""The feedback service's tables (see migrations/ for how they came to be).

Free text people typed (complaint descriptions, messages, reasons, survey comments, feedback
text) lives only in the `*text*`/`comment`/`reason` columns, which a customer's erasure clears.
"""

import sqlalchemy as sa

from services.common.timeutil import UTCDateTime

metadata = sa.MetaData()
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

calendars = sa.Table(
    "sla_calendars", metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("version", sa.Integer(), primary_key=True),
    sa.Column("definition", sa.JSON(), nullable=False),
    sa.Column("created_by", sa.String(36), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

policy_sets = sa.Table(
    "sla_policy_sets", metadata,
    sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("definition", sa.JSON(), nullable=False),
    sa.Column("created_by", sa.String(36), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

complaints = sa.Table(
    "complaints", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("customer_id", sa.String(100), nullable=False, index=True),
    sa.Column("status", sa.String(30), nullable=False, index=True),
    sa.Column("priority", sa.String(30), nullable=False),
    sa.Column("category", sa.String(100), nullable=True),
    sa.Column("channel", sa.String(30), nullable=True),
    sa.Column("assignee", sa.String(100), nullable=True),
    sa.Column("description_text", sa.Text(), nullable=True),
    sa.Column("linked_to", sa.String(36), nullable=True),
    sa.Column("sla", sa.JSON(), nullable=False),
    sa.Column("breached", sa.Boolean(), nullable=False),
    sa.Column("next_due_at", UTCDateTime(), nullable=True),  # earliest deadline of a running, unbreached clock
    sa.Column("without_survey", sa.Boolean(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_complaints_created", "created_at", "id"),
)

complaint_history = sa.Table(
    "complaint_history", metadata,
    sa.Column("id", BIGINT_ID, primary_key=True, autoincrement=True),
    sa.Column("complaint_id", sa.String(36), sa.ForeignKey("complaints.id"), nullable=False, index=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("action", sa.String(30), nullable=False),
    sa.Column("from_status", sa.String(30), nullable=True),
    sa.Column("to_status", sa.String(30), nullable=True),
    sa.Column("changes", sa.JSON(), nullable=False),
    sa.Column("reason_text", sa.Text(), nullable=True),
)

customer_tiers = sa.Table(
    "customer_tiers", metadata,
    sa.Column("customer_id", sa.String(100), primary_key=True),
    sa.Column("tier", sa.String(20), nullable=False),
    sa.Column("changed_at", UTCDateTime(), nullable=False),
)

surveys = sa.Table(
    "surveys", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("follow_up_question", sa.String(500), nullable=True),
    sa.Column("questions", sa.JSON(), nullable=False),
    sa.Column("points", sa.Integer(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

invitations = sa.Table(
    "survey_invitations", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("survey_id", sa.String(36), sa.ForeignKey("surveys.id"), nullable=False),
    sa.Column("customer_id", sa.String(100), nullable=False),
    sa.Column("complaint_id", sa.String(36), nullable=True),
    sa.Column("channel", sa.String(30), nullable=False),
    sa.Column("token_sha256", sa.String(64), nullable=True, unique=True),
    sa.Column("sent_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("token_used_at", UTCDateTime(), nullable=True),
    sa.Column("points_awarded", sa.Boolean(), nullable=False),
    sa.Index("ix_invitations_customer_sent", "customer_id", "sent_at"),
    sa.Index("ix_invitations_survey_sent", "survey_id", "sent_at"),
)

responses = sa.Table(
    "survey_responses", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("invitation_id", sa.String(36), sa.ForeignKey("survey_invitations.id"), nullable=False, index=True),
    sa.Column("survey_id", sa.String(36), nullable=False),
    sa.Column("customer_id", sa.String(100), nullable=False, index=True),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("score", sa.Integer(), nullable=False),
    sa.Column("scale_min", sa.Integer(), nullable=False),
    sa.Column("scale_max", sa.Integer(), nullable=False),
    sa.Column("ratings", sa.JSON(), nullable=False),
    sa.Column("comment", sa.Text(), nullable=True),
    sa.Column("channel", sa.String(30), nullable=False),
    sa.Column("recorded_by", sa.String(100), nullable=True),
    sa.Column("latest", sa.Boolean(), nullable=False),
    sa.Column("answered_at", UTCDateTime(), nullable=False),
    sa.Index("ix_responses_survey_answered", "survey_id", "answered_at"),
)

points_ledger = sa.Table(
    "points_ledger", metadata,
    sa.Column("id", BIGINT_ID, primary_key=True, autoincrement=True),
    sa.Column("customer_id", sa.String(100), nullable=False, index=True),
    sa.Column("kind", sa.String(10), nullable=False),  # award, redeem, expire
    sa.Column("points", sa.Integer(), nullable=False),  # signed: awards add, redeems and expiries take
    sa.Column("reason", sa.String(50), nullable=False),
    sa.Column("note_text", sa.Text(), nullable=True),
    sa.Column("invitation_id", sa.String(36), nullable=True, unique=True),
    sa.Column("expires_at", UTCDateTime(), nullable=True),
    sa.Column("at", UTCDateTime(), nullable=False),
)

feedback_items = sa.Table(
    "feedback_items", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("customer_id", sa.String(100), nullable=True, index=True),
    sa.Column("channel", sa.String(30), nullable=False),
    sa.Column("category", sa.String(100), nullable=False),
    sa.Column("rating", sa.Integer(), nullable=True),
    sa.Column("text", sa.Text(), nullable=True),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Column("handled_at", UTCDateTime(), nullable=True),
    sa.Column("handled_by", sa.String(100), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Index("ix_feedback_created", "created_at", "id"),
)
