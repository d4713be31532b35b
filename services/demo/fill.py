"""Sending the demo shop to a running stack, chunk by chunk, through the public APIs only.

Idempotence: customers are upserted by external_id, purchases by order_id and refunds by refund_id,
so sending them again changes nothing. Interactions, feedback, complaints and survey answers have no
key of their own in the APIs, so the demo keeps its progress in the stack itself: one customer record
(external_id `pulse-demo-progress-<seed>`) whose attributes list, per chunk of customers, the stages done,
and the moment the history ends (the first run's), so a later run draws the same purchases. A run
interrupted inside a stage sends that stage of that chunk again.
"""

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from services.demo import shop
from services.demo.client import DemoError, PulseApi

# The history first; what happens today (complaints, survey answers) once scoring knows the
# customers' tiers, which the SLA policies and the alert rules look at.
HISTORY = ("purchases", "refunds", "interactions", "feedback")
TODAY = ("complaints", "surveys")
STAGES = HISTORY + TODAY
SURVEYS = {
    "nps": {"kind": "nps", "name": "购物体验推荐意愿 (NPS)", "follow_up_question": "您给出这个分数的主要原因是什么？"},
    "csat": {"kind": "csat", "name": "投诉处理满意度 (CSAT)", "questions": [{"key": "attitude", "label": "客服态度", "scale_min": 1, "scale_max": 5}]},
    "ces": {"kind": "ces", "name": "退款办理省心程度 (CES)"},
}
# Live chat promises a first answer within two minutes, so a complaint left alone there breaches
# while the demo is still running; everything else keeps the policy set in force.
# Short transactions: on SQLite one batch holds the write lock while every other writer waits.
PURCHASE_BATCH = 1000
CHAT_POLICY_ID = "demo-online-chat"
CHAT_FIRST_RESPONSE_SECONDS = 120


@dataclass
class Options:
    customers: int = 20_000
    seed: int = 7
    chunk: int = 500
    chunks_in_flight: int = 2
    wait_seconds: float = 120.0  # for scoring to learn the history before today's complaints and surveys


@dataclass
class Outcome:
    added: Counter = field(default_factory=Counter)  # what this run created, per kind
    unchanged: Counter = field(default_factory=Counter)
    skipped_chunks: int = 0
    anchor: datetime | None = None
    expected_purchases: int = 0


class Progress:
    """The demo's own record in the stack: a customer whose attributes hold what was done."""

    def __init__(self, api: PulseApi, customer_id: str, etag: str, state: dict):
        self.api, self.customer_id, self.etag, self.state = api, customer_id, etag, state
        self.lock = asyncio.Lock()

    @classmethod
    async def load(cls, api: PulseApi, seed: int, now: datetime) -> "Progress":
        external_id = f"pulse-demo-progress-{seed}"
        found = await api.json("profiles", "GET", "/v1/customers", params={"external_id": external_id})
        if found["items"]:
            customer_id = found["items"][0]["id"]
        else:
            anchor = now.replace(second=0, microsecond=0).isoformat()
            body = {"external_id": external_id, "name": "演示数据进度 (demo progress)", "tags": ["pulse-demo-progress"],
                    "attributes": {"anchor": anchor, "seed": seed, "surveys": {}, "purchases": 0, "complete": [], "partial": {}}}
            customer_id = (await api.json("profiles", "POST", "/v1/customers", json=body))["id"]
        response = await api.call("profiles", "GET", f"/v1/customers/{customer_id}")
        return cls(api, customer_id, response.headers["ETag"], response.json()["attributes"])

    @property
    def anchor(self) -> datetime:
        return datetime.fromisoformat(self.state["anchor"])

    def done(self, chunk: int) -> set[str]:
        if chunk in self.state["complete"]:
            return set(STAGES)
        return set(self.state["partial"].get(str(chunk), []))

    async def save(self, change) -> None:
        async with self.lock:
            change(self.state)
            response = await self.api.call("profiles", "PATCH", f"/v1/customers/{self.customer_id}", json={"attributes": self.state},
                                            headers={"If-Match": self.etag})
            self.etag = response.headers["ETag"]

    async def mark(self, chunk: int, stage: str, purchases: int) -> None:
        """Kept small (attributes hold 16 KB): the numbers of the chunks done, the stages of the others."""
        def add(state: dict) -> None:
            before = set(state["partial"].pop(str(chunk), []))
            done = before | {stage}
            if stage == "purchases" and stage not in before:
                state["purchases"] += purchases
            if done >= set(STAGES):
                state["complete"] = sorted(set(state["complete"]) | {chunk})
            else:
                state["partial"][str(chunk)] = sorted(done)
        await self.save(add)

    def purchases_recorded(self) -> int:
        return self.state["purchases"]


# --- setting up: surveys and the live-chat policy ---------------------------------------------

async def surveys(api: PulseApi, progress: Progress) -> dict[str, str]:
    ids = dict(progress.state.get("surveys", {}))
    missing = [kind for kind in SURVEYS if kind not in ids]
    for kind in missing:
        ids[kind] = (await api.json("feedback", "POST", "/v1/surveys", json=SURVEYS[kind]))["id"]
    if missing:
        await progress.save(lambda state: state.__setitem__("surveys", ids))
    return ids


async def chat_policy(api: PulseApi) -> bool:
    """Adds the live-chat policy in front of the policies in force, once; True when it was added."""
    current = await api.json("feedback", "GET", "/v1/sla-policies")
    if any(p["id"] == CHAT_POLICY_ID for p in current["policies"]):
        return False
    default = next(p for p in current["policies"] if p.get("default"))
    targets = {metric: dict(by_priority) for metric, by_priority in default["targets"].items()}
    targets["first_response"] = {priority: {**target, "seconds": CHAT_FIRST_RESPONSE_SECONDS, "calendar": "24x7"}
                                 for priority, target in targets["first_response"].items()}
    first = min(p["position"] for p in current["policies"]) - 1
    chat = {"id": CHAT_POLICY_ID, "position": first, "default": False, "enabled": True,
            "conditions": {"channel": ["online_chat"]}, "targets": targets}
    body = {"default_priority": current["default_priority"], "policies": [chat, *current["policies"]]}
    await api.call("feedback", "PUT", "/v1/sla-policies", json=body)
    return True


# --- one chunk of customers -------------------------------------------------------------------

@dataclass
class Chunk:
    number: int
    plans: list[shop.CustomerPlan]
    customer_ids: dict[str, str] = field(default_factory=dict)  # external_id -> id
    purchase_ids: dict[str, str] = field(default_factory=dict)  # order_id -> id
    complaint_ids: dict[str, str] = field(default_factory=dict)  # external_id -> complaint id


def _count(outcome: Outcome, kind: str, result: dict) -> None:
    if result["failed"]:
        first = next(r for r in result["results"] if r["status"] == "error")
        raise DemoError(f"{kind}: {result['failed']} refused, e.g. item {first['index']}: {first['error']}")
    outcome.added[kind] += result["created"]
    outcome.unchanged[kind] += result["unchanged"] + result["updated"]


async def send_customers(api: PulseApi, chunk: Chunk, outcome: Outcome, known: dict[str, str]) -> None:
    """Upserted by external_id: the ids are needed by every later stage, so this runs for any chunk not
    done, unless this run already upserted the chunk (the history phase before today's): an upsert
    costs the stack far more than a purchase, so it is not sent twice for ids the run holds."""
    if all(p.external_id in known for p in chunk.plans):
        chunk.customer_ids = {p.external_id: known[p.external_id] for p in chunk.plans}
        return
    result = await api.json("profiles", "POST", "/v1/customers:batch", json={"items": [p.customer_body() for p in chunk.plans]}, keyed=True)
    _count(outcome, "customers", result)
    chunk.customer_ids = {p.external_id: r["id"] for p, r in zip(chunk.plans, result["results"])}
    known |= chunk.customer_ids


async def send_purchases(api: PulseApi, chunk: Chunk, outcome: Outcome) -> None:
    """History, so `backfill: true`: scoring learns it, alerts do not raise on what is long past."""
    items = [{"order_id": o.order_id, "customer_external_id": p.external_id, "amount": str(o.amount),
              "occurred_at": o.occurred_at.isoformat(), "channel": o.channel} for p in chunk.plans for o in p.purchases]
    for start in range(0, len(items), PURCHASE_BATCH):
        part = items[start:start + PURCHASE_BATCH]
        result = await api.json("profiles", "POST", "/v1/purchases:batch", json={"items": part, "backfill": True}, keyed=True)
        _count(outcome, "purchases", result)
        chunk.purchase_ids |= {item["order_id"]: r["id"] for item, r in zip(part, result["results"])}


async def send_refunds(api: PulseApi, chunk: Chunk, outcome: Outcome) -> None:
    async def refund(order: shop.PurchasePlan) -> None:
        body = {"refund_id": f"{order.order_id}-r1", "amount": str(order.refund_amount), "occurred_at": order.refunded_at.isoformat()}
        response = await api.call("profiles", "POST", f"/v1/purchases/{chunk.purchase_ids[order.order_id]}/refunds", json=body, keyed=True)
        (outcome.added if response.status_code == 201 else outcome.unchanged)["refunds"] += 1

    await asyncio.gather(*(refund(o) for p in chunk.plans for o in p.purchases if o.refund_amount))


async def send_interactions(api: PulseApi, chunk: Chunk, outcome: Outcome) -> None:
    async def log(plan: shop.CustomerPlan, interaction: shop.InteractionPlan) -> None:
        body = {"customer_id": chunk.customer_ids[plan.external_id], "channel": interaction.channel, "direction": interaction.direction,
                "outcome": interaction.outcome, "note": interaction.note, "occurred_at": interaction.occurred_at.isoformat()}
        await api.call("profiles", "POST", "/v1/interactions", json=body)
        outcome.added["interactions"] += 1

    await asyncio.gather(*(log(p, i) for p in chunk.plans for i in p.interactions))


async def send_feedback(api: PulseApi, chunk: Chunk, outcome: Outcome) -> None:
    async def record(plan: shop.CustomerPlan, item: shop.FeedbackPlan) -> None:
        body = {"customer_id": chunk.customer_ids[plan.external_id], "channel": item.channel, "category": item.category,
                "rating": item.rating, "text": item.text, "received_at": item.received_at.isoformat()}
        created = await api.json("feedback", "POST", "/v1/feedback", json=body)
        outcome.added["feedback"] += 1
        if item.handled:
            await api.call("feedback", "POST", f"/v1/feedback/{created['id']}:handle")

    await asyncio.gather(*(record(p, f) for p in chunk.plans for f in p.feedback))


async def send_complaints(api: PulseApi, chunk: Chunk, outcome: Outcome) -> None:
    async def handle(plan: shop.CustomerPlan) -> None:
        complaint = plan.complaint
        body = {"customer_id": chunk.customer_ids[plan.external_id], "priority": complaint.priority, "category": complaint.category,
                "channel": complaint.channel, "assignee": "service_desk", "description": complaint.description}
        complaint_id = (await api.json("feedback", "POST", "/v1/complaints", json=body))["id"]
        outcome.added["complaints"] += 1
        chunk.complaint_ids[plan.external_id] = complaint_id
        for step in complaint.path:
            await api.call("feedback", "POST", f"/v1/complaints/{complaint_id}:{_action(step)}", json=_step_body(step))

    await asyncio.gather(*(handle(p) for p in chunk.plans if p.complaint))


def _action(step: str) -> str:
    return "wait" if step == "wait_on_customer" else step


def _step_body(step: str) -> dict:
    if step == "wait_on_customer":
        return {"on": "customer", "reason": "等待客户提供订单照片"}
    if step == "reply":
        return {"message": "您好，已为您登记处理，我们会尽快给您答复。"}
    if step == "resolve":
        return {"reason": "已为客户换货并致歉", "without_survey": True}  # the demo takes the CSAT answer by phone itself
    return {}


async def send_surveys(api: PulseApi, chunk: Chunk, outcome: Outcome, survey_ids: dict[str, str]) -> None:
    """NPS and CES go out by SMS and some customers answer by the link; CSAT is asked on the phone
    after a complaint is resolved and recorded by the agent."""
    for kind in ("nps", "ces"):
        plans = {chunk.customer_ids[p.external_id]: p for p in chunk.plans if p.survey and p.survey.kind == kind}
        if plans:
            await _invite_and_answer(api, survey_ids[kind], plans, outcome)
    await asyncio.gather(*(_phone_csat(api, survey_ids["csat"], chunk, p, outcome)
                           for p in chunk.plans if p.survey and p.survey.kind == "csat"))


async def _invite_and_answer(api: PulseApi, survey_id: str, plans: dict[str, shop.CustomerPlan], outcome: Outcome) -> None:
    ids = list(plans)
    for start in range(0, len(ids), 1000):
        sent = await api.json("feedback", "POST", f"/v1/surveys/{survey_id}/invitations",
                              json={"customer_ids": ids[start:start + 1000], "channel": "sms"})
        outcome.added["survey invitations"] += len(sent["sent"])
        outcome.unchanged["survey invitations"] += len(sent["throttled"])

        async def answer(invitation: dict) -> None:
            survey = plans[invitation["customer_id"]].survey
            body = {"score": survey.score, **({"comment": survey.comment} if survey.comment else {})}
            await api.call("feedback", "POST", f"/v1/responses/{invitation['token']}", json=body, auth=False)
            outcome.added["survey answers"] += 1

        await asyncio.gather(*(answer(i) for i in sent["sent"] if plans[i["customer_id"]].survey.answers))


async def _phone_csat(api: PulseApi, survey_id: str, chunk: Chunk, plan: shop.CustomerPlan, outcome: Outcome) -> None:
    body = {"customer_id": chunk.customer_ids[plan.external_id], "channel": "phone", "score": plan.survey.score,
            "ratings": {"attitude": max(1, min(5, plan.survey.score + 1))}}
    if plan.external_id in chunk.complaint_ids:
        body["complaint_id"] = chunk.complaint_ids[plan.external_id]
    await api.call("feedback", "POST", f"/v1/surveys/{survey_id}/responses", json=body)
    outcome.added["survey answers"] += 1


# --- the whole run ----------------------------------------------------------------------------

@dataclass
class Run:
    api: PulseApi
    options: Options
    progress: Progress
    survey_ids: dict[str, str]
    outcome: Outcome
    customer_ids: dict[str, str] = field(default_factory=dict)  # external_id -> id, of every chunk upserted in this run


async def prepare(api: PulseApi, options: Options, *, now: datetime | None = None) -> Run:
    """The progress record (with the history's end), the surveys and the live-chat policy."""
    progress = await Progress.load(api, options.seed, now or datetime.now(timezone.utc))
    outcome = Outcome(anchor=progress.anchor)
    survey_ids = await surveys(api, progress)
    if await chat_policy(api):
        outcome.added["SLA policies"] += 1
    return Run(api, options, progress, survey_ids, outcome)


async def send(run: Run, stages: tuple[str, ...], advance=lambda customers: None) -> None:
    """Sends the stages not done yet of every chunk; `advance(n)` hears of every n customers dealt with."""
    options, slots = run.options, asyncio.Semaphore(run.options.chunks_in_flight)

    async def one(number: int, start: int) -> None:
        count = min(options.chunk, options.customers - start)
        async with slots:
            if run.progress.done(number) >= set(stages):
                run.outcome.skipped_chunks += 1
            else:
                plans = await asyncio.to_thread(shop.customers, options.seed, count, run.progress.anchor, start)
                await _send_chunk(run, Chunk(number, plans), stages)
            advance(count)

    await asyncio.gather(*(one(number, start) for number, start in enumerate(range(0, options.customers, options.chunk))))
    run.outcome.expected_purchases = run.progress.purchases_recorded()


async def _send_chunk(run: Run, chunk: Chunk, stages: tuple[str, ...]) -> None:
    api, outcome, progress = run.api, run.outcome, run.progress
    senders = {"refunds": send_refunds, "interactions": send_interactions, "feedback": send_feedback,
               "complaints": send_complaints, "surveys": lambda a, c, o: send_surveys(a, c, o, run.survey_ids)}
    todo = [stage for stage in stages if stage not in progress.done(chunk.number)]
    purchases = sum(len(p.purchases) for p in chunk.plans)
    await send_customers(api, chunk, outcome, run.customer_ids)
    if {"purchases", "refunds"} & set(todo):  # refunds need the purchases' ids, which sending again gives
        await send_purchases(api, chunk, outcome)
    for stage in todo:
        if stage != "purchases":
            await senders[stage](api, chunk, outcome)
        await progress.mark(chunk.number, stage, purchases)


# --- after the filling: scoring catches up, the models are refitted ---------------------------

async def wait_for_scoring(api: PulseApi, purchases: int, customers: int, seconds: float, tick=lambda stats: None) -> dict:
    """Polls scoring's /v1/stats until it knows every purchase and customer, or the time is up."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        stats = await api.json("scoring", "GET", "/v1/stats")
        tick(stats)
        if (stats["purchases"] >= purchases and stats["customers"] >= customers) or asyncio.get_running_loop().time() >= deadline:
            return stats
        await asyncio.sleep(1.0)


async def refit(api: PulseApi) -> dict:
    """The fit and the re-scoring of everyone happen within the request: minutes for a large shop."""
    return await api.json("scoring", "POST", "/v1/models/clv:refit", json={}, timeout=1800)


def report_window(anchor: datetime, now: datetime) -> tuple[datetime, datetime]:
    return anchor - timedelta(days=shop.HISTORY_DAYS), now + timedelta(minutes=1)
