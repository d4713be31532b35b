"""API keys of the deployment.

Revision ID: auth_0001
Revises:
"""

from alembic import op

from services.common.auth import metadata

revision = "auth_0001"
down_revision = None
branch_labels = ("auth",)
depends_on = None


def upgrade() -> None:
    # First revision: the tables as first defined; later changes are explicit ops.
    metadata.create_all(op.get_bind())
