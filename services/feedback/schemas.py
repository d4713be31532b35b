"""Request and response bodies of the feedback API."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Code = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]
CustomerId = Annotated[str, Field(min_length=1, max_length=100)]
Text = Annotated[str, Field(max_length=10_000)]
Channel = Literal["hotline", "online_chat", "email", "suggestion_box", "social_media", "in_app", "wechat", "phone", "visit", "link"]
FEEDBACK_CHANNELS = ("hotline", "online_chat", "email", "suggestion_box", "social_media", "in_app", "wechat")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- complaints --------------------------------------------------------------------------------

class ComplaintCreate(Strict):
    customer_id: CustomerId
    priority: Code | None = Field(None, description="Missing: the policy set's default priority.")
    category: Code | None = None
    channel: Code | None = None
    assignee: Code | None = None
    description: Text | None = Field(None, description="Free text; never in events.")


class ComplaintUpdate(Strict):
    priority: Code | None = None
    category: Code | None = None
    assignee: Code | None = None
    reason: Text | None = None


class TransitionRequest(Strict):
    reason: Text | None = Field(None, description="Why, kept in the history (free text, never in events).")


class WaitRequest(TransitionRequest):
    on: Literal["customer", "third_party"] = Field(description="Whom the complaint waits on.")


class ResolveRequest(TransitionRequest):
    without_survey: bool = Field(False, description="Resolve without the CSAT invitation that follows.")


class ReplyRequest(Strict):
    from_: Literal["agent", "customer"] = Field("agent", alias="from")
    public: bool = Field(True, description="Customer-visible; an internal note is not a response.")
    automated: bool = Field(False, description="An auto-reply is not a response either.")
    message: Text | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SlaMetricOut(BaseModel):
    metric: str
    instance: int
    state: str
    breached: bool
    breach_cause: str | None = None
    breached_at: datetime | None = None
    fulfilled_at: datetime | None = None
    due_at: datetime | None = None
    original_due_at: datetime | None = None
    consumed_seconds: float
    paused_seconds: float
    target_seconds: float
    warnings_at: list[datetime] = []


class HistoryEntry(BaseModel):
    at: datetime
    actor: str
    action: str
    from_status: str | None = None
    to_status: str | None = None
    changes: dict[str, Any] = {}
    reason: str | None = None


class ComplaintOut(BaseModel):
    id: str
    customer_id: str
    status: str
    priority: str
    category: str | None = None
    channel: str | None = None
    assignee: str | None = None
    description: str | None = None
    linked_to: str | None = None
    tier: str | None = None
    policy_id: str
    policy_version: int
    reopen_count: int
    breached: bool
    version: int
    allowed_transitions: list[str]
    sla: list[SlaMetricOut]
    history: list[HistoryEntry] | None = None
    created_at: datetime
    updated_at: datetime


# --- calendars and policies --------------------------------------------------------------------

class CalendarIn(Strict):
    time_zone: str = "Asia/Shanghai"
    weekly: dict[str, list[tuple[str, str]]] = Field(description="Open intervals per weekday (mon…sun), e.g. [[\"09:00\", \"12:00\"]]; 24:00 allowed as an end.")
    exceptions: list[dict[str, Any]] = Field([], description="Dates with their own hours: [{\"date\": \"2026-10-10\", \"hours\": []}].")
    holidays: dict[str, Any] | None = Field(None, description="{\"country\": \"CN\", \"observe_makeup_workdays\": true, \"makeup_workday_hours\": \"mon\"}")
    verified_years: list[int] = []


class CalendarOut(BaseModel):
    name: str
    version: int
    time_zone: str
    weekly: dict[str, list[list[str]]]
    exceptions: list[dict[str, Any]] = []
    holidays: dict[str, Any] | None = None
    verified_years: list[int] = []
    recomputed_complaints: int | None = None


class PolicySetIn(Strict):
    default_priority: Code = "normal"
    policies: list[dict[str, Any]] = Field(min_length=1, description="Each {id, position, default, enabled, conditions, targets, pause_on_third_party}.")


class PolicySetOut(BaseModel):
    version: int
    default_priority: str
    policies: list[dict[str, Any]]
    recomputed_complaints: int | None = None
