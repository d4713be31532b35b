"""The public event catalog (events.md): one payload model per event type, and its topic.

Payloads carry ids, fixed codes and numbers, never personal data or free text. Models only grow:
new fields are optional, nothing is renamed, retyped or removed; a breaking change is a new `.v2`
type beside the old. (Exceptions, made before the first release had any consumer: customer events
dropped their free-text `tags` for `tag_count`; `interaction.logged.outcome`, the purchase's and the
feedback's `channel` and the strings among an alert's `facts` became fixed codes.)
"""

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.common.settings import Topics


# What came of an interaction, as a fixed code: a free-text outcome could carry personal data.
InteractionOutcome = Literal["reached", "no_answer", "voicemail", "callback_requested", "resolved", "escalated", "other"]
# Where a purchase was made or feedback came in, as the deployment's own code (online, store, wechat_mini, ...).
ChannelCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,49}$", description="A fixed code, never free text.")]
# A string among an alert's facts: a code, an id or a moment; no spaces, so no sentence and no name fits.
FactCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:+-]{1,64}$")]


class EventPayload(BaseModel):
    # Subscribers must accept fields added later, so unknown fields are ignored, not refused.
    model_config = ConfigDict(extra="ignore", frozen=True)
    event_type: ClassVar[str]
    topic: ClassVar[str]  # attribute name in Topics
    customer_id: str = Field(description="The customer the event is about; also the Kafka key.")


# --- pulse.customers ---------------------------------------------------------------------------

class CustomerCreated(EventPayload):
    event_type = "pulse.customer.created.v1"
    topic = "customers"
    external_id: str | None = None
    tag_count: int = Field(0, description="How many tags the customer has; the tags themselves are free text and stay in profiles.")
    has_email: bool = False
    has_phone: bool = False
    consent: dict[str, bool] = {}
    created_at: datetime


class CustomerUpdated(EventPayload):
    event_type = "pulse.customer.updated.v1"
    topic = "customers"
    changed_fields: list[str] = Field(description="Names of the fields that changed, never their values.")
    tag_count: int = Field(0, description="How many tags the customer has now; the tags themselves stay in profiles.")
    consent: dict[str, bool] = {}
    updated_at: datetime


class CustomerMerged(EventPayload):
    event_type = "pulse.customer.merged.v1"
    topic = "customers"
    merged_customer_id: str = Field(description="The duplicate whose history moved to customer_id.")
    moved_purchases: int
    moved_interactions: int
    merged_at: datetime


class CustomerErased(EventPayload):
    event_type = "pulse.customer.erased.v1"
    topic = "customers"
    erased_at: datetime


# --- pulse.purchases ---------------------------------------------------------------------------

class PurchaseRecorded(EventPayload):
    event_type = "pulse.purchase.recorded.v1"
    topic = "purchases"
    purchase_id: str
    order_id: str
    amount: str = Field(description="Decimal string in the deployment's base currency.")
    currency: str
    occurred_at: datetime
    channel: ChannelCode | None = None


class PurchaseRefunded(EventPayload):
    event_type = "pulse.purchase.refunded.v1"
    topic = "purchases"
    purchase_id: str
    order_id: str
    refund_id: str
    amount: str = Field(description="This refund's amount, a decimal string.")
    refunded_total: str = Field(description="All refunds of the purchase so far.")
    currency: str
    fully_refunded: bool
    occurred_at: datetime
    purchase_occurred_at: datetime


# --- pulse.interactions ------------------------------------------------------------------------

class InteractionLogged(EventPayload):
    event_type = "pulse.interaction.logged.v1"
    topic = "interactions"
    interaction_id: str
    channel: Literal["call", "visit", "email", "chat", "follow_up"]
    direction: Literal["inbound", "outbound"]
    outcome: InteractionOutcome | None = Field(None, description="A fixed code; free text (the note) stays in profiles.")
    occurred_at: datetime


# --- pulse.feedback ----------------------------------------------------------------------------

class SurveyResponded(EventPayload):
    event_type = "pulse.survey.responded.v1"
    topic = "feedback"
    response_id: str
    survey_id: str
    kind: Literal["nps", "csat", "ces"]
    score: int
    scale_min: int
    scale_max: int
    complaint_id: str | None = None
    answered_at: datetime


class FeedbackReceived(EventPayload):
    event_type = "pulse.feedback.received.v1"
    topic = "feedback"
    feedback_id: str
    channel: ChannelCode
    sentiment: Literal["positive", "neutral", "negative"] | None = None
    received_at: datetime
    category: str | None = Field(None, description="A fixed code, e.g. product_quality; never the text.")
    rating: int | None = Field(None, description="1-5 when the customer gave one.")


class LoyaltyPointsChanged(EventPayload):
    event_type = "pulse.loyalty.points_changed.v1"
    topic = "feedback"
    kind: Literal["award", "redeem", "expire"]
    points: int = Field(description="The change: positive for an award, negative for a redemption or expiry.")
    balance: int = Field(description="The customer's balance after the change.")
    changed_at: datetime


# --- pulse.complaints --------------------------------------------------------------------------

class SlaMetricSnapshot(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    metric: Literal["first_response", "next_response", "resolution"]
    instance: int = 1
    state: Literal["running", "paused", "fulfilled", "cancelled"]
    breached: bool
    due_at: datetime | None = None
    original_due_at: datetime | None = None
    consumed_seconds: float
    target_seconds: float
    warnings_at: list[datetime] = []


class ComplaintEvent(EventPayload):
    topic = "complaints"
    complaint_id: str
    status: str
    priority: str
    policy_id: str | None = None
    policy_version: int | None = None
    reopen_count: int = 0
    sla: list[SlaMetricSnapshot] = []
    changed_at: datetime


class ComplaintOpened(ComplaintEvent):
    event_type = "pulse.complaint.opened.v1"


class ComplaintUpdated(ComplaintEvent):
    event_type = "pulse.complaint.updated.v1"


class ComplaintResolved(ComplaintEvent):
    event_type = "pulse.complaint.resolved.v1"


class ComplaintReopened(ComplaintEvent):
    event_type = "pulse.complaint.reopened.v1"


class ComplaintClosed(ComplaintEvent):
    event_type = "pulse.complaint.closed.v1"


# --- pulse.scores ------------------------------------------------------------------------------

class ScoreUpdated(EventPayload):
    event_type = "pulse.score.updated.v1"
    topic = "scores"
    health: float
    previous_health: float | None = None
    p_alive: float | None = None
    clv: float | None = None
    rfm: str | None = None
    standard_version: int
    scored_at: datetime


class TierChanged(EventPayload):
    event_type = "pulse.tier.changed.v1"
    topic = "scores"
    tier: Literal["high", "medium", "low", "unrated"]
    previous_tier: Literal["high", "medium", "low", "unrated"] | None = None
    clv: float | None = None
    changed_at: datetime


class LifecycleChanged(EventPayload):
    event_type = "pulse.lifecycle.changed.v1"
    topic = "scores"
    stage: Literal["prospect", "new", "active", "at_risk", "churned"]
    previous_stage: Literal["prospect", "new", "active", "at_risk", "churned"] | None = None
    reactivated: bool = False
    p_alive: float | None = None
    changed_at: datetime


# --- pulse.alerts ------------------------------------------------------------------------------

class AlertEvent(EventPayload):
    topic = "alerts"
    alert_id: str
    kind: Literal["churn_risk", "follow_up_due", "sla_warning", "sla_breached", "detractor", "acknowledged", "resolved"]
    severity: Literal["info", "warning", "critical"]
    rule: str
    rule_version: int
    dedup_key: str = Field(description="Stable across re-deliveries and restarts of the same alert.")
    facts: dict[str, float | int | FactCode | bool | None] = Field(description="The numbers that triggered the alert.")
    due_at: datetime | None = None
    detected_at: datetime
    alert_kind: Literal["churn_risk", "follow_up_due", "sla_warning", "sla_breached", "detractor"] | None = Field(
        default=None, description="The kind of the alert itself; on acknowledged and resolved, of the alert that changed.")
    status: Literal["open", "acknowledged", "resolved"] | None = None
    actor_id: str | None = Field(default=None, description="Who changed it: `key:<API key id>`, an identity provider's subject, or `system`.")
    resolution: Literal["manual", "purchase", "reactivated", "interaction", "complaint_answered"] | None = Field(
        default=None, description="Why it was resolved: by a person, or the cause went away.")
    changed_at: datetime | None = None


class ChurnRiskAlert(AlertEvent):
    event_type = "pulse.alert.churn_risk.v1"


class FollowUpDueAlert(AlertEvent):
    event_type = "pulse.alert.follow_up_due.v1"


class SlaWarningAlert(AlertEvent):
    event_type = "pulse.alert.sla_warning.v1"


class SlaBreachedAlert(AlertEvent):
    event_type = "pulse.alert.sla_breached.v1"


class DetractorAlert(AlertEvent):
    event_type = "pulse.alert.detractor.v1"


class AlertAcknowledged(AlertEvent):
    event_type = "pulse.alert.acknowledged.v1"


class AlertResolved(AlertEvent):
    event_type = "pulse.alert.resolved.v1"


CATALOG: dict[str, type[EventPayload]] = {
    model.event_type: model
    for model in (
        CustomerCreated, CustomerUpdated, CustomerMerged, CustomerErased,
        PurchaseRecorded, PurchaseRefunded, InteractionLogged,
        SurveyResponded, FeedbackReceived, LoyaltyPointsChanged,
        ComplaintOpened, ComplaintUpdated, ComplaintResolved, ComplaintReopened, ComplaintClosed,
        ScoreUpdated, TierChanged, LifecycleChanged,
        ChurnRiskAlert, FollowUpDueAlert, SlaWarningAlert, SlaBreachedAlert, DetractorAlert, AlertAcknowledged, AlertResolved,
    )
}


def topic_of(event_type: str, topics: Topics) -> str:
    return getattr(topics, CATALOG[event_type].topic)
