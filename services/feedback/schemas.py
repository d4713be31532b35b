"""Request and response bodies of the feedback API."""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Code = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]
CustomerId = Annotated[str, Field(min_length=1, max_length=100)]
Text = Annotated[str, Field(max_length=10_000)]
FeedbackChannel = Literal["hotline", "online_chat", "email", "suggestion_box", "social_media", "in_app", "wechat"]


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
    linked_to: Code | None = Field(None, description="The earlier complaint this one follows (a closed complaint is final).")


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


# --- surveys -----------------------------------------------------------------------------------

class RatedQuestion(Strict):
    key: Code
    label: Annotated[str, Field(min_length=1, max_length=300)]
    scale_min: int = Field(1, ge=0, le=10)
    scale_max: int = Field(5, ge=1, le=10)


class SurveyCreate(Strict):
    kind: Literal["nps", "csat", "ces"]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    follow_up_question: Annotated[str, Field(max_length=500)] | None = Field(None, description="An optional free-text question after the score.")
    questions: list[RatedQuestion] = Field([], max_length=20, description="Extra rated questions, e.g. product quality, service attitude, response speed.")
    points: int = Field(0, ge=0, le=1_000_000, description="Points awarded for a completed answer, once per invitation.")


class SurveyQuestions(BaseModel):
    """What a customer is asked."""

    kind: str
    name: str
    scale_min: int
    scale_max: int
    follow_up_question: str | None = None
    questions: list[RatedQuestion]


class SurveyOut(SurveyQuestions):
    id: str
    points: int
    created_at: datetime


class InvitationCreate(Strict):
    customer_id: CustomerId | None = Field(None, description="One customer: refused with 409 when throttled.")
    customer_ids: list[CustomerId] | None = Field(None, min_length=1, description="A batch: throttled customers are listed, not sent.")
    complaint_id: Code | None = None
    channel: Literal["link", "sms", "email", "wechat", "in_app"] = "link"


class InvitationOut(BaseModel):
    id: str
    survey_id: str
    customer_id: str
    complaint_id: str | None = None
    channel: str
    sent_at: datetime
    expires_at: datetime
    token: str | None = Field(None, description="The single-use response token: answer at /v1/responses/{token}.")
    answered: bool = False


class ThrottledOut(BaseModel):
    customer_id: str
    reason: str
    next_allowed_at: datetime


class InvitationBatchOut(BaseModel):
    sent: list[InvitationOut]
    throttled: list[ThrottledOut]


class AnswerIn(Strict):
    score: int = Field(ge=-1000, le=1000)
    comment: Text | None = Field(None, description="The answer to the follow-up question (free text).")
    ratings: dict[Code, Annotated[int, Field(ge=0, le=10)]] = {}


class RecordedAnswerIn(AnswerIn):
    customer_id: CustomerId
    channel: Literal["phone", "visit", "email", "wechat", "online_chat", "hotline", "in_app"]
    invitation_id: Code | None = Field(None, description="The invitation this answers; a later answer to it becomes the latest.")
    complaint_id: Code | None = None


class ResponseOut(BaseModel):
    id: str
    invitation_id: str
    survey_id: str
    customer_id: str
    kind: str
    score: int
    scale_min: int
    scale_max: int
    ratings: dict[str, int]
    comment: str | None = None
    channel: str
    latest: bool
    answered_at: datetime


class SurveyForm(SurveyQuestions):
    survey_id: str
    expires_at: datetime
    answered: bool


class InvitationDetail(InvitationOut):
    responses: list[ResponseOut]


class ResultBucket(BaseModel):
    label: str
    starts_on: date
    responses: int
    hidden: bool
    status: str
    score: float | None = None
    margin_of_error: float | None = None
    details: dict[str, float | int] | None = None


class SurveyResults(BaseModel):
    survey_id: str
    kind: str
    from_: datetime = Field(alias="from")
    to: datetime
    scale_min: int
    scale_max: int
    status: str = Field(description="'ok', or 'no data' when nobody answered in the period (the score is then null, never 0).")
    responses: int
    score: float | None = Field(None, description="NPS (-100..100), CSAT (% of 4-5) or CES (mean effort).")
    margin_of_error: float | None = Field(None, description="95 % margin of error of the score; null under two answers.")
    details: dict[str, float | int] | None = None
    counts: dict[str, int]
    invitations_sent: int
    invitations_answered: int
    response_rate: float | None = None
    trend: list[ResultBucket]

    model_config = ConfigDict(populate_by_name=True)


# --- points ------------------------------------------------------------------------------------

class LedgerEntryOut(BaseModel):
    kind: str
    points: int
    reason: str
    note: str | None = None
    at: datetime
    expires_at: datetime | None = None


class PointsOut(BaseModel):
    customer_id: str
    balance: int
    entries: list[LedgerEntryOut]


class RedeemIn(Strict):
    points: int = Field(ge=1, le=1_000_000_000)
    reason: Code = "redeemed"
    note: Text | None = None


# --- feedback ----------------------------------------------------------------------------------

class FeedbackCreate(Strict):
    customer_id: CustomerId | None = None
    channel: FeedbackChannel
    category: Code
    rating: int | None = Field(None, ge=1, le=5)
    text: Text | None = None
    received_at: datetime | None = None


class FeedbackOut(BaseModel):
    id: str
    customer_id: str | None = None
    channel: str
    category: str
    rating: int | None = None
    text: str | None = None
    received_at: datetime
    handled_at: datetime | None = None
    handled_by: str | None = None
    created_at: datetime
