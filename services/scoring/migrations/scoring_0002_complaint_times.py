"""Each complaint's first-response and resolution times as its SLA clocks counted them, for the
period summary's medians (scoring.md §7).

Revision ID: scoring_0002
Revises: scoring_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "scoring_0002"
down_revision = "scoring_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scoring_complaints") as table:
        table.add_column(sa.Column("first_response_seconds", sa.Float(), nullable=True))
        table.add_column(sa.Column("resolution_seconds", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scoring_complaints") as table:
        table.drop_column("resolution_seconds")
        table.drop_column("first_response_seconds")
