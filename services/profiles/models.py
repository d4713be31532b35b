"""The customer archive's tables. Personal fields are stored encrypted (`*_enc`) and matched
through keyed hashes (`*_hash`, name tokens); nothing personal is stored in clear."""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from services.common.timeutil import UTCDateTime

BIGINT = sa.BigInteger()


def _time(nullable: bool = False, index: bool = False):
    return Field(sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index))


class Customer(SQLModel, table=True):
    __tablename__ = "customers"
    id: str = Field(primary_key=True, max_length=36)
    external_id: str | None = Field(default=None, max_length=200, unique=True)
    name_enc: str | None = None
    email_enc: str | None = None
    phone_enc: str | None = None
    address_enc: str | None = None
    name_hash: str | None = Field(default=None, index=True, max_length=64)
    email_hash: str | None = Field(default=None, unique=True, max_length=64)
    phone_hash: str | None = Field(default=None, unique=True, max_length=64)
    company: str | None = Field(default=None, max_length=200)
    tags: list = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    attributes: dict = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    consent: dict = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    status: str = Field(default="active", max_length=10, index=True)
    merged_into: str | None = Field(default=None, max_length=36)
    version: int = 1
    created_at: datetime = _time(index=True)
    updated_at: datetime = _time()
    erased_at: datetime | None = _time(nullable=True)


class CustomerTag(SQLModel, table=True):
    __tablename__ = "customer_tags"
    customer_id: str = Field(primary_key=True, foreign_key="customers.id", max_length=36)
    tag: str = Field(primary_key=True, max_length=64, index=True)


class NameToken(SQLModel, table=True):
    __tablename__ = "customer_name_tokens"
    customer_id: str = Field(primary_key=True, foreign_key="customers.id", max_length=36)
    token_hash: str = Field(primary_key=True, max_length=64, index=True)


class Purchase(SQLModel, table=True):
    __tablename__ = "purchases"
    id: str = Field(primary_key=True, max_length=36)
    order_id: str = Field(max_length=200, unique=True)
    customer_id: str = Field(foreign_key="customers.id", max_length=36, index=True)
    amount_minor: int = Field(sa_column=sa.Column(BIGINT, nullable=False))
    refunded_minor: int = Field(default=0, sa_column=sa.Column(BIGINT, nullable=False, server_default="0"))
    currency: str = Field(max_length=3)
    channel: str | None = Field(default=None, max_length=50)
    fingerprint: str = Field(max_length=64)
    backfill: bool = False
    occurred_at: datetime = _time()
    created_at: datetime = _time()


class Refund(SQLModel, table=True):
    __tablename__ = "refunds"
    id: str = Field(primary_key=True, max_length=36)
    refund_id: str = Field(max_length=200, unique=True)
    purchase_id: str = Field(foreign_key="purchases.id", max_length=36, index=True)
    amount_minor: int = Field(sa_column=sa.Column(BIGINT, nullable=False))
    occurred_at: datetime = _time()
    created_at: datetime = _time()


class Interaction(SQLModel, table=True):
    __tablename__ = "interactions"
    id: str = Field(primary_key=True, max_length=36)
    customer_id: str = Field(foreign_key="customers.id", max_length=36, index=True)
    channel: str = Field(max_length=20)
    direction: str = Field(max_length=10)
    outcome: str | None = Field(default=None, max_length=100)
    note_enc: str | None = None
    occurred_at: datetime = _time()
    created_at: datetime = _time()


PROFILE_TABLES = [model.__table__ for model in (Customer, CustomerTag, NameToken, Purchase, Refund, Interaction)]
