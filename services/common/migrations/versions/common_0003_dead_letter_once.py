"""A dead letter is recorded once per record; inbox ids can be purged by age.

Revision ID: common_0003
Revises: common_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "common_0003"
down_revision = "common_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("dead_letters", sa.Column("record_partition", sa.Integer(), nullable=True))
    op.add_column("dead_letters", sa.Column("record_offset", sa.BigInteger(), nullable=True))
    op.add_column("dead_letters", sa.Column("event_id", sa.String(length=36), nullable=True))
    op.add_column("dead_letters", sa.Column("record_ref", sa.String(length=300), nullable=True))
    # Letters written before this revision stay, each its own.
    op.execute("UPDATE dead_letters SET record_ref = 'row:' || CAST(id AS VARCHAR(20))")
    with op.batch_alter_table("dead_letters") as batch:
        batch.alter_column("record_ref", existing_type=sa.String(length=300), nullable=False)
    op.create_index("uq_dead_letters_record", "dead_letters", ["consumer", "record_ref"], unique=True)
    op.create_index("ix_inbox_processed_at", "inbox", ["processed_at"], unique=False)
