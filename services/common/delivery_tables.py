"""Table definitions of the delivery machinery (see migrations/versions/common_0001 and later)."""

import sqlalchemy as sa

from services.common.timeutil import UTCDateTime

metadata = sa.MetaData()
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", BIGINT_ID, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(36), nullable=False, unique=True),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("topic", sa.String(200), nullable=False),
    sa.Column("key", sa.String(100), nullable=False),
    sa.Column("headers", sa.JSON(), nullable=False),
    sa.Column("value", sa.Text(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("sent_at", UTCDateTime(), nullable=True),
    # PostgreSQL: the writing transaction's id, filled by the server (common_0002); SQLite: empty.
    sa.Column("txid", sa.BigInteger(), nullable=True, server_default=sa.FetchedValue()),
    sa.Index("ix_outbox_unsent", "id", postgresql_where=sa.text("sent_at IS NULL"), sqlite_where=sa.text("sent_at IS NULL")),
)

inbox = sa.Table(
    "inbox", metadata,
    sa.Column("consumer", sa.String(100), primary_key=True),
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("processed_at", UTCDateTime(), nullable=False),
    sa.Index("ix_inbox_processed_at", "processed_at"),  # the purge of old ids
)

timers = sa.Table(
    "timers", metadata,
    sa.Column("id", BIGINT_ID, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(100), nullable=False),
    sa.Column("key", sa.String(300), nullable=False),
    sa.Column("due_at", UTCDateTime(), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("kind", "key", name="uq_timers_kind_key"),
    sa.Index("ix_timers_due_at", "due_at"),
)

dead_letters = sa.Table(
    "dead_letters", metadata,
    sa.Column("id", BIGINT_ID, primary_key=True, autoincrement=True),
    sa.Column("consumer", sa.String(100), nullable=False),
    sa.Column("topic", sa.String(200), nullable=False),
    sa.Column("key", sa.String(100), nullable=False),
    sa.Column("headers", sa.JSON(), nullable=False),
    sa.Column("value", sa.Text(), nullable=False),
    sa.Column("error", sa.Text(), nullable=False),  # the error's class and codes, never its message
    sa.Column("failed_at", UTCDateTime(), nullable=False),
    sa.Column("record_partition", sa.Integer(), nullable=True),
    sa.Column("record_offset", sa.BigInteger(), nullable=True),
    sa.Column("event_id", sa.String(36), nullable=True),
    # The same dead letter when its record comes back: see dead_letters.record_ref.
    sa.Column("record_ref", sa.String(300), nullable=False),
    sa.Index("uq_dead_letters_record", "consumer", "record_ref", unique=True),
)
