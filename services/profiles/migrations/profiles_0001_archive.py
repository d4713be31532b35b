"""The customer archive: customers, tags, name tokens, purchases, refunds, interactions.

Revision ID: profiles_0001
Revises: common_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "profiles_0001"
down_revision = "common_0001"
branch_labels = ("profiles",)
depends_on = None


def upgrade() -> None:
    # Frozen: the tables as first defined, spelled out; later changes are revisions of their own.
    op.create_table("customers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("name_enc", sa.String(), nullable=True),
        sa.Column("email_enc", sa.String(), nullable=True),
        sa.Column("phone_enc", sa.String(), nullable=True),
        sa.Column("address_enc", sa.String(), nullable=True),
        sa.Column("name_hash", sa.String(length=64), nullable=True),
        sa.Column("email_hash", sa.String(length=64), nullable=True),
        sa.Column("phone_hash", sa.String(length=64), nullable=True),
        sa.Column("company", sa.String(length=200), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("consent", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("merged_into", sa.String(length=36), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email_hash"),
        sa.UniqueConstraint("external_id"),
        sa.UniqueConstraint("phone_hash")
    )
    op.create_index("ix_customers_created_at", "customers", ["created_at"], unique=False)
    op.create_index("ix_customers_name_hash", "customers", ["name_hash"], unique=False)
    op.create_index("ix_customers_status", "customers", ["status"], unique=False)
    op.create_table("customer_name_tokens",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("customer_id", "token_hash")
    )
    op.create_index("ix_customer_name_tokens_token_hash", "customer_name_tokens", ["token_hash"], unique=False)
    op.create_table("customer_tags",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("customer_id", "tag")
    )
    op.create_index("ix_customer_tags_tag", "customer_tags", ["tag"], unique=False)
    op.create_table("interactions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.String(length=100), nullable=True),
        sa.Column("note_enc", sa.String(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index("ix_interactions_customer_id", "interactions", ["customer_id"], unique=False)
    op.create_table("purchases",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("refunded_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("channel", sa.String(length=50), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("backfill", sa.Boolean(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id")
    )
    op.create_index("ix_purchases_customer_id", "purchases", ["customer_id"], unique=False)
    op.create_table("refunds",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("refund_id", sa.String(length=200), nullable=False),
        sa.Column("purchase_id", sa.String(length=36), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["purchase_id"], ["purchases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("refund_id")
    )
    op.create_index("ix_refunds_purchase_id", "refunds", ["purchase_id"], unique=False)
