"""Delivery tables every service database has: outbox, inbox, timers, dead letters.

Revision ID: common_0001
Revises:
"""

from alembic import op

from services.common.delivery_tables import metadata

revision = "common_0001"
down_revision = None
branch_labels = ("common",)
depends_on = None


def upgrade() -> None:
    # The first revision creates the tables as first defined; later changes are explicit ops
    # in revisions of their own, so this one never needs to change.
    metadata.create_all(op.get_bind())
