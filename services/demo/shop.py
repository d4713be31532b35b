"""The demo shop's customers and everything that happens to them, drawn from a seed. Pure: no HTTP.

Customer `index` is drawn from its own generator seeded with (seed, index), so a customer is the same
whatever the count and the order of generation, and a second run sends the same records again.
Purchases follow BG/NBD (a Poisson rate per customer from a Gamma, a drop-out chance after each
repeat purchase from a Beta) and their amounts Gamma-Gamma, with parameters per segment, over the two
years before `anchor` (the moment of the first run, kept by the stack, so a later run draws the same).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import numpy as np
import phonenumbers
from faker import Faker

HISTORY_DAYS = 730
SHANGHAI = timezone(timedelta(hours=8))
CHANNELS = ("store", "tmall", "jd", "wechat_mini_program")
FEEDBACK_CHANNELS = ("hotline", "online_chat", "email", "suggestion_box", "social_media", "in_app", "wechat")


@dataclass(frozen=True)
class Segment:
    """BG/NBD (r, alpha in days, a, b) and Gamma-Gamma (p, q, v in yuan) of one kind of customer."""

    name: str
    share: float
    r: float
    alpha: float
    a: float
    b: float
    p: float
    q: float
    v: float
    refund_chance: float
    promoter_bias: float  # shifts the NPS answer: loyal customers recommend, slipping ones do not

    def mean_order_value(self) -> float:
        return self.p * self.v / (self.q - 1)


SEGMENTS = (
    Segment("vip", 0.06, r=2.0, alpha=40.0, a=0.5, b=12.0, p=6.0, q=4.0, v=300.0, refund_chance=0.02, promoter_bias=2.0),
    Segment("regular", 0.30, r=1.2, alpha=60.0, a=0.7, b=6.0, p=5.0, q=4.0, v=90.0, refund_chance=0.03, promoter_bias=1.0),
    Segment("occasional", 0.36, r=0.6, alpha=120.0, a=0.8, b=3.0, p=4.0, q=3.5, v=60.0, refund_chance=0.03, promoter_bias=0.0),
    Segment("bargain_hunter", 0.18, r=0.9, alpha=70.0, a=0.9, b=3.0, p=3.0, q=5.0, v=70.0, refund_chance=0.08, promoter_bias=-0.5),
    Segment("slipping_away", 0.10, r=1.5, alpha=50.0, a=2.0, b=3.0, p=5.0, q=4.0, v=120.0, refund_chance=0.05, promoter_bias=-2.5),
)
SEGMENT_BY_NAME = {s.name: s for s in SEGMENTS}


@dataclass(frozen=True)
class PurchasePlan:
    order_id: str
    occurred_at: datetime
    amount: Decimal
    channel: str
    refund_amount: Decimal | None = None  # None: not refunded; equal to amount: in full
    refunded_at: datetime | None = None


@dataclass(frozen=True)
class InteractionPlan:
    channel: str
    direction: str
    outcome: str
    note: str
    occurred_at: datetime


@dataclass(frozen=True)
class FeedbackPlan:
    channel: str
    category: str
    rating: int
    text: str
    received_at: datetime
    handled: bool


@dataclass(frozen=True)
class ComplaintPlan:
    priority: str
    category: str
    channel: str
    description: str
    path: tuple[str, ...]  # the transitions it goes through, in order ("reply" is an agent's answer)


@dataclass(frozen=True)
class SurveyPlan:
    kind: str  # nps, csat or ces
    answers: bool
    score: int
    comment: str | None


@dataclass
class CustomerPlan:
    index: int
    external_id: str
    segment: str
    name: str
    phone: str
    email: str
    address: str
    city: str
    joined_at: datetime
    purchases: list[PurchasePlan] = field(default_factory=list)
    interactions: list[InteractionPlan] = field(default_factory=list)
    feedback: list[FeedbackPlan] = field(default_factory=list)
    complaint: ComplaintPlan | None = None
    survey: SurveyPlan | None = None

    def customer_body(self) -> dict:
        return {"external_id": self.external_id, "name": self.name, "phone": self.phone, "email": self.email,
                "address": self.address, "tags": ["demo", self.segment], "attributes": {"city": self.city, "segment": self.segment},
                "consent": {"sms": True, "email_marketing": self.index % 3 != 0}}


# --- the pure samplers ------------------------------------------------------------------------

def repeat_purchase_days(rng: np.random.Generator, segment: Segment, age_days: float) -> list[float]:
    """Days after the first purchase of the repeat purchases within `age_days` (BG/NBD)."""
    rate = rng.gamma(segment.r, 1 / segment.alpha)
    dropout = rng.beta(segment.a, segment.b)
    days, at = [], 0.0
    while True:
        at += rng.exponential(1 / rate)
        if at > age_days:
            return days
        days.append(at)
        if rng.random() < dropout:
            return days


def order_values(rng: np.random.Generator, segment: Segment, count: int) -> list[Decimal]:
    """Gamma-Gamma: the customer's spend rate from a Gamma, each order's value from a Gamma around it."""
    spend_rate = rng.gamma(segment.q, 1 / segment.v)
    values = rng.gamma(segment.p, 1 / spend_rate, count)
    return [Decimal(str(max(round(float(v), 2), 1.0))).quantize(Decimal("0.01")) for v in values]


def segment_of(rng: np.random.Generator) -> Segment:
    return SEGMENTS[int(rng.choice(len(SEGMENTS), p=[s.share for s in SEGMENTS]))]


# --- one customer -----------------------------------------------------------------------------

def customer(seed: int, index: int, anchor: datetime, faker: Faker | None = None) -> CustomerPlan:
    rng = np.random.default_rng([seed, index])
    faker = faker or Faker("zh_CN")
    faker.seed_instance(seed * 1_000_003 + index)
    segment = segment_of(rng)
    start = anchor - timedelta(days=HISTORY_DAYS)
    joined_day = float(rng.uniform(0, HISTORY_DAYS - 1))
    plan = CustomerPlan(
        index=index, external_id=f"demo-{seed}-{index:06d}", segment=segment.name, name=faker.name(), phone=china_mobile(faker, seed, index),
        email=f"{faker.user_name()}.{index}@{faker.free_email_domain()}", address=faker.address(), city=faker.city_name(), joined_at=_shop_hours(rng, start + timedelta(days=joined_day)),
    )
    days = [0.0] + repeat_purchase_days(rng, segment, HISTORY_DAYS - 1 - joined_day)
    plan.purchases = _purchases(rng, plan, segment, [start + timedelta(days=joined_day + d) for d in days], anchor)
    plan.interactions = _interactions(rng, plan, anchor)
    if rng.random() < 0.04:
        plan.feedback = [_feedback(rng, plan, anchor)]
    if rng.random() < 0.015 + (0.03 if segment.name == "slipping_away" else 0.0):
        plan.complaint = _complaint(rng)
    plan.survey = _survey(rng, plan, segment)
    return plan


def customers(seed: int, count: int, anchor: datetime, start: int = 0) -> list[CustomerPlan]:
    faker = Faker("zh_CN")
    return [customer(seed, index, anchor, faker) for index in range(start, start + count)]


def china_mobile(faker: Faker, seed: int, index: int) -> str:
    """A mobile number valid for CN in E.164, unique per index (profiles refuses a phone twice): Faker's
    operator prefix (redrawn when unassigned), then eight digits that a bijection of the index gives."""
    subscriber = (index * 7919 + seed * 104_729) % 10**8
    while True:
        number = phonenumbers.parse(faker.phone_number()[:3] + f"{subscriber:08d}", "CN")
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _shop_hours(rng: np.random.Generator, moment: datetime) -> datetime:
    """The same day in Shanghai, between 09:00 and 22:00 (shops and apps are busiest then)."""
    local = moment.astimezone(SHANGHAI).replace(hour=9, minute=0, second=0, microsecond=0)
    return (local + timedelta(seconds=int(rng.integers(0, 13 * 3600)))).astimezone(timezone.utc)


def _purchases(rng, plan: CustomerPlan, segment: Segment, moments: list[datetime], anchor: datetime) -> list[PurchasePlan]:
    out = []
    for number, (moment, amount) in enumerate(zip(moments, order_values(rng, segment, len(moments)))):
        occurred_at = min(_shop_hours(rng, moment), anchor - timedelta(minutes=1))
        refund_amount = refunded_at = None
        if rng.random() < segment.refund_chance:
            refunded_at = min(occurred_at + timedelta(days=float(rng.uniform(1, 10))), anchor - timedelta(seconds=1))
            refund_amount = amount if rng.random() < 0.7 else (amount * Decimal(str(round(float(rng.uniform(0.2, 0.8)), 2)))).quantize(Decimal("0.01"))
        out.append(PurchasePlan(f"{plan.external_id}-o{number:04d}", occurred_at, amount, CHANNELS[int(rng.integers(len(CHANNELS)))],
                                refund_amount if refund_amount else None, refunded_at if refund_amount else None))
    return out


FOLLOW_UP_NOTES = ("回访：客户对商品满意", "回访：客户询问会员积分", "回访：客户反映物流较慢", "回访：客户希望有更多优惠活动", "回访：未接通，稍后再拨")
INBOUND_NOTES = ("客户来电咨询退换货政策", "客户咨询门店营业时间", "客户询问订单配送进度", "客户咨询发票开具")


def _interactions(rng, plan: CustomerPlan, anchor: datetime) -> list[InteractionPlan]:
    """Follow-up calls a few days after some purchases (more for the best customers), and calls in."""
    chance = {"vip": 0.5, "regular": 0.15}.get(plan.segment, 0.03)
    out = []
    for purchase in plan.purchases[-3:]:
        if rng.random() < chance:
            outcome = str(rng.choice(["reached", "reached", "reached", "no_answer", "voicemail", "callback_requested"]))
            at = min(purchase.occurred_at + timedelta(days=float(rng.uniform(2, 5))), anchor - timedelta(seconds=1))
            out.append(InteractionPlan("follow_up", "outbound", outcome, str(rng.choice(FOLLOW_UP_NOTES)), at))
        if rng.random() < 0.03:
            at = min(purchase.occurred_at + timedelta(days=float(rng.uniform(0, 20))), anchor - timedelta(seconds=1))
            out.append(InteractionPlan("call", "inbound", "resolved", str(rng.choice(INBOUND_NOTES)), at))
    return sorted(out, key=lambda i: i.occurred_at)


FEEDBACK_TEXTS = {
    "product_quality": ("衣服面料很好，穿着舒服", "收到的杯子有裂纹", "质量一般，和图片有差距"),
    "delivery": ("快递很快，第二天就到了", "物流太慢，等了一个星期", "包装破损了"),
    "price": ("会员价很实惠", "比别家贵了一点", "希望多一些满减活动"),
    "store_service": ("店员很热情，耐心介绍", "结账排队时间太长", "门店环境干净整洁"),
    "app_experience": ("小程序下单很方便", "优惠券总是用不了", "希望能保存常用地址"),
}
COMPLAINT_TEXTS = {
    "product_defect": "收到的商品有质量问题，要求换货",
    "late_delivery": "订单超过承诺时间仍未送达",
    "wrong_item": "发错了商品的颜色和尺码",
    "refund_delay": "退款申请提交很久了还没有到账",
    "staff_attitude": "门店店员态度不好",
}
# How far each complaint gets: most are closed; some wait on the customer; a few are left alone.
COMPLAINT_PATHS = (
    (0.50, ("acknowledge", "start", "reply", "resolve", "close")),
    (0.12, ("acknowledge", "start", "reply", "resolve")),
    (0.06, ("acknowledge", "start", "reply", "resolve", "reopen", "reply")),
    (0.10, ("acknowledge", "start", "reply", "wait_on_customer")),
    (0.10, ("acknowledge", "start")),
    (0.12, ()),
)


def _feedback(rng, plan: CustomerPlan, anchor: datetime) -> FeedbackPlan:
    category = str(rng.choice(sorted(FEEDBACK_TEXTS)))
    texts = FEEDBACK_TEXTS[category]
    pick = int(rng.integers(len(texts)))
    rating = int(np.clip(rng.normal(4.3 if pick == 0 else 2.5, 0.8), 1, 5))
    received_at = plan.purchases[-1].occurred_at + timedelta(days=float(rng.uniform(0, 7)))
    return FeedbackPlan(str(rng.choice(FEEDBACK_CHANNELS)), category, rating, texts[pick], min(received_at, anchor - timedelta(seconds=1)),
                        handled=bool(rng.random() < 0.7))


def _complaint(rng) -> ComplaintPlan:
    category = str(rng.choice(sorted(COMPLAINT_TEXTS)))
    priority = str(rng.choice(["urgent", "high", "normal", "low"], p=[0.1, 0.25, 0.5, 0.15]))
    channel = str(rng.choice(["online_chat", "hotline", "wechat", "store"], p=[0.4, 0.3, 0.2, 0.1]))
    shares = [share for share, _ in COMPLAINT_PATHS]
    path = COMPLAINT_PATHS[int(rng.choice(len(COMPLAINT_PATHS), p=shares))][1]
    return ComplaintPlan(priority, category, channel, COMPLAINT_TEXTS[category], path)


NPS_COMMENTS = {"promoter": "会推荐给朋友和家人", "passive": "还可以，没有特别惊喜", "detractor": "体验不太好，不会再来了"}


def _survey(rng, plan: CustomerPlan, segment: Segment) -> SurveyPlan | None:
    """One survey at most per customer (the service throttles invitations): CSAT after a complaint,
    CES after a refund, NPS for a sample of the rest."""
    answers = bool(rng.random() < 0.45)
    if plan.complaint is not None and "resolve" in plan.complaint.path:
        return SurveyPlan("csat", True, int(np.clip(round(rng.normal(3.8, 1.1)), 1, 5)), None)
    if any(p.refund_amount for p in plan.purchases) and rng.random() < 0.5:
        return SurveyPlan("ces", answers, int(np.clip(round(rng.normal(3.0, 1.3)), 1, 7)), None)
    if rng.random() < 0.15:
        score = int(np.clip(round(rng.normal(7.5 + segment.promoter_bias, 1.8)), 0, 10))
        band = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
        return SurveyPlan("nps", answers, score, NPS_COMMENTS[band] if rng.random() < 0.3 else None)
    return None
