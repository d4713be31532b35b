"""The customer archive: customers, tags, name tokens, purchases, refunds, interactions.

Revision ID: profiles_0001
Revises: common_0001
"""

from alembic import op

from services.profiles.models import PROFILE_TABLES

revision = "profiles_0001"
down_revision = "common_0001"
branch_labels = ("profiles",)
depends_on = None


def upgrade() -> None:
    # First revision: the tables as first defined; later changes are explicit ops.
    for table in PROFILE_TABLES:
        table.create(op.get_bind())
