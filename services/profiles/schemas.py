"""Request and response models of the profiles API. Validation names the field at fault."""

import json
import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from services.common.catalog import ChannelCode, InteractionOutcome
from services.common.text import RequestModel
from services.common.timeutil import as_utc

Tag = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\s,]+$")]
Text200 = Annotated[str, Field(min_length=1, max_length=200)]
# Consent is published, so what it is given for is a code (e.g. `sms`, `email_marketing`), not text.
ConsentCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("must include a time zone offset, e.g. 2026-03-01T10:00:00+08:00")
    if not 1900 <= moment.year <= 2200:
        raise ValueError("must be between the years 1900 and 2200")
    return as_utc(moment)


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]


# An amount is a string of ASCII digits with at most one dot and digits on both sides of it, after
# an optional sign: "128.50", "7", "+3.5". Not "1e3", "1_000", ".5", full-width digits, NaN or
# Infinity, which Decimal() would take. The sign is accepted so that "-3" gets the clearer message.
AMOUNT = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def _decimal_string(value: str) -> str:
    if not AMOUNT.fullmatch(value):
        raise ValueError("must be a decimal number of ASCII digits and at most one dot, written as a string, e.g. \"128.50\"")
    if Decimal(value) < 0:
        raise ValueError("must not be negative")
    return value


AmountString = Annotated[str, Field(max_length=32, examples=["128.50"]), AfterValidator(_decimal_string)]


class CustomerFields(RequestModel):
    name: Text200 | None = None
    email: Annotated[str, Field(max_length=254)] | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    address: Annotated[str, Field(max_length=500)] | None = None
    company: Text200 | None = None
    tags: Annotated[list[Tag], Field(max_length=50)] | None = None
    attributes: dict | None = None
    consent: dict[ConsentCode, bool] | None = None

    @field_validator("attributes")
    @classmethod
    def attributes_fit(cls, value: dict | None) -> dict | None:
        if value is not None and len(json.dumps(value, ensure_ascii=False).encode()) > 16 * 1024:
            raise ValueError("must be at most 16 KB as JSON")
        return value


class CustomerCreate(CustomerFields):
    external_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    name: Text200


class CustomerUpdate(CustomerFields):
    """Only the fields sent change; `null` clears an optional field."""


class CustomerUpsert(CustomerFields):
    external_id: Annotated[str, Field(min_length=1, max_length=200)]
    name: Text200


class CustomerOut(BaseModel):
    id: str
    external_id: str | None
    name: str | None
    email: str | None
    phone: str | None
    address: str | None
    company: str | None
    tags: list[str]
    attributes: dict
    consent: dict[str, bool]
    status: Literal["active", "merged", "erased"]
    merged_into: str | None = None
    personal_data_redacted: bool = False
    version: int
    created_at: datetime
    updated_at: datetime


class MergeRequest(RequestModel):
    survivor_id: str = Field(min_length=1, max_length=36)
    duplicate_ids: list[Annotated[str, Field(min_length=1, max_length=36)]] = Field(min_length=1, max_length=50)


class MergeOut(BaseModel):
    survivor: CustomerOut
    merged_ids: list[str]
    moved_purchases: int
    moved_interactions: int


class DuplicateCandidate(BaseModel):
    customer_id: str
    reasons: list[Literal["same_email", "same_phone", "same_name", "same_name_and_company"]]
    score: float


class PurchaseCreate(RequestModel):
    order_id: Annotated[str, Field(min_length=1, max_length=200)]
    customer_id: Annotated[str, Field(min_length=1, max_length=36)] | None = None
    customer_external_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    amount: AmountString
    currency: Annotated[str, Field(min_length=3, max_length=3)] | None = None
    occurred_at: AwareDatetime
    channel: ChannelCode | None = None

    @model_validator(mode="after")
    def one_customer_reference(self):
        if (self.customer_id is None) == (self.customer_external_id is None):
            raise ValueError("give exactly one of customer_id and customer_external_id")
        return self


class RefundCreate(RequestModel):
    refund_id: Annotated[str, Field(min_length=1, max_length=200)]
    amount: AmountString | None = Field(default=None, description="Omit for a full refund of what remains.")
    occurred_at: AwareDatetime


class RefundOut(BaseModel):
    id: str
    refund_id: str
    purchase_id: str
    amount: str
    occurred_at: datetime


class PurchaseOut(BaseModel):
    id: str
    order_id: str
    customer_id: str
    amount: str
    refunded_amount: str
    currency: str
    channel: str | None
    occurred_at: datetime
    created_at: datetime
    backfill: bool


class InteractionCreate(RequestModel):
    customer_id: Annotated[str, Field(min_length=1, max_length=36)]
    channel: Literal["call", "visit", "email", "chat", "follow_up"]
    direction: Literal["inbound", "outbound"]
    outcome: InteractionOutcome | None = Field(None, description="A fixed code (it is published); write anything else in `note`.")
    note: Annotated[str, Field(max_length=10_000)] | None = None
    occurred_at: AwareDatetime


class InteractionOut(BaseModel):
    id: str
    customer_id: str
    channel: str
    direction: str
    outcome: str | None
    note: str | None
    occurred_at: datetime
    created_at: datetime


class BatchRequest(BaseModel):
    """Items are validated one by one, so a bad item gets its own error and the rest go through."""

    model_config = ConfigDict(extra="forbid")
    items: list[dict] = Field(min_length=1)


class PurchaseBatchRequest(BatchRequest):
    backfill: bool = False


class BatchItemResult(BaseModel):
    index: int
    status: Literal["created", "updated", "unchanged", "error"]
    http_status: int
    id: str | None = None
    error: dict | None = None


class BatchResult(BaseModel):
    results: list[BatchItemResult]
    created: int
    unchanged: int
    updated: int
    failed: int
