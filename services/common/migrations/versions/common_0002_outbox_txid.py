"""The outbox remembers which transaction wrote each row, so that the relay publishes in commit order.

Revision ID: common_0002
Revises: common_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "common_0002"
down_revision = "common_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("txid", sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # Filled by the server at insert; SQLite has one writer at a time and needs no such column.
        op.alter_column("outbox", "txid", server_default=sa.text("(pg_current_xact_id())::text::bigint"))
