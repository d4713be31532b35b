"""Webhook delivery: every alert event becomes a pending delivery per subscribing endpoint (in the
alert's transaction), and a background job sends them off the request and consumer paths.

Many alerts at once are PACED per endpoint, and for chat robots also BATCHED: each dispatch pass
sends an endpoint at most ceil(rate_per_minute · pass / 60) requests, then holds it until its rate
allows more; a chat request carries up to `webhook_chat_batch_size` alerts in one message. Nothing
is dropped: what waits stays pending in the table. A failed try is retried with exponential
back-off and jitter; every try is logged; an endpoint failing too often in a row is disabled."""

import asyncio
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.context import AlertsContext
from services.alerts.destinations import DestinationRefused, guarded_transport
from services.alerts.models import Alert, Webhook, WebhookAttempt, WebhookDelivery
from services.alerts.rules.config import SEVERITY_RANK
from services.alerts.webhooks.chat import accepted, chat_request
from services.alerts.webhooks.request import OutgoingRequest
from services.alerts.webhooks.retry import backoff_seconds
from services.alerts.webhooks.standard import signed_request
from services.common.events import Envelope
from services.common.ids import new_id

PASS_SECONDS = 1.0  # the delivery job runs this often
ENDPOINTS_KEY = "alerts.webhooks"
DELIVERIES = WebhookDelivery.__table__


def webhook_body(envelope: Envelope) -> dict:
    """The Standard Webhooks payload shape: type, timestamp, data (plus the event id)."""
    return {"id": envelope.id, "type": envelope.type, "timestamp": envelope.time.isoformat(), "data": envelope.data}


async def enqueue(session: AsyncSession, events: Sequence[tuple[Envelope, Alert]], *, at: datetime) -> None:
    """A pending delivery per event and subscribing endpoint, in one insert."""
    if ENDPOINTS_KEY not in session.info:  # once per transaction: a batch of alerts asks once
        session.info[ENDPOINTS_KEY] = (await session.execute(
            sa.select(Webhook.id, Webhook.alert_kinds, Webhook.min_severity).where(Webhook.enabled.is_(True))
        )).all()
    rows = [delivery_row(endpoint.id, webhook_body(envelope), alert_id=alert.id, at=at)
            for envelope, alert in events for endpoint in session.info[ENDPOINTS_KEY]
            if subscribes(endpoint, alert.kind, alert.severity)]
    if rows:
        await session.execute(sa.insert(DELIVERIES), rows)


def delivery_row(webhook_id: str, body: dict, *, alert_id: str | None, at: datetime) -> dict:
    return dict(id=new_id(), webhook_id=webhook_id, event_id=body["id"], event_type=body["type"], alert_id=alert_id,
                body=body, status="pending", attempts=0, next_attempt_at=at, created_at=at, delivered_at=None)


def add_delivery(session: AsyncSession, webhook_id: str, body: dict, *, alert_id: str | None, at: datetime) -> WebhookDelivery:
    delivery = WebhookDelivery(**delivery_row(webhook_id, body, alert_id=alert_id, at=at))
    session.add(delivery)
    return delivery


def subscribes(endpoint, alert_kind: str, severity: str) -> bool:
    kinds_ok = not endpoint.alert_kinds or alert_kind in endpoint.alert_kinds
    return kinds_ok and SEVERITY_RANK[severity] >= SEVERITY_RANK[endpoint.min_severity]


async def deliver_webhooks(ctx: AlertsContext) -> int:
    """The job: one pass over the endpoints with deliveries due (the job runner never overlaps two
    passes, and runs them on the leader only); returns the requests made."""
    timeout = httpx.Timeout(ctx.settings.webhook_timeout_seconds, connect=min(5.0, ctx.settings.webhook_timeout_seconds))
    transport = guarded_transport(block_private=ctx.settings.webhook_block_private, tls=ctx.tls)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, transport=transport) as client:
        requests = await Dispatcher(ctx, client).run_once()
    async with ctx.database.sessions() as session:
        pending = await session.scalar(sa.select(sa.func.count()).where(WebhookDelivery.status == "pending"))
    ctx.alert_metrics.deliveries_pending.set(pending)
    return requests


class Dispatcher:
    def __init__(self, ctx: AlertsContext, client: httpx.AsyncClient):
        self.ctx = ctx
        self.database = ctx.database
        self.settings = ctx.settings
        self.client = client

    async def run_once(self) -> int:
        now = self.ctx.clock.now()
        async with self.database.sessions() as session:
            endpoints = (await session.scalars(
                sa.select(Webhook).where(
                    Webhook.enabled.is_(True), sa.or_(Webhook.next_send_at.is_(None), Webhook.next_send_at <= now),
                    sa.exists().where(WebhookDelivery.webhook_id == Webhook.id, WebhookDelivery.status == "pending",
                                      WebhookDelivery.next_attempt_at <= now),
                )
            )).all()
        sent = await asyncio.gather(*(self._serve(endpoint, now) for endpoint in endpoints))
        return sum(sent)

    async def _serve(self, endpoint: Webhook, now: datetime) -> int:
        budget = max(1, math.ceil(endpoint.rate_per_minute * PASS_SECONDS / 60))
        group_size = 1 if endpoint.kind == "standard" else self.settings.webhook_chat_batch_size
        async with self.database.sessions() as session:
            due = (await session.scalars(
                sa.select(WebhookDelivery).where(
                    WebhookDelivery.webhook_id == endpoint.id, WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at <= now,
                ).order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(budget * group_size)
            )).all()
        url = self.ctx.cipher.decrypt(endpoint.url_enc)
        secret = self.ctx.cipher.decrypt(endpoint.secret_enc)
        groups = [due[start:start + group_size] for start in range(0, len(due), group_size)]
        tries = []
        for group in groups:
            tries.append(await self._send(endpoint, url, secret, group))
            if tries[-1].outcome != "delivered":
                break  # a failing endpoint gets no more tries in this pass
        # One transaction per endpoint and pass: a crash before it commits means these are sent
        # again (at least once; the webhook-id stays the same, so receivers de-duplicate).
        async with self.database.transaction() as session:
            outcomes = [self._outcome(delivery, done) for done in tries for delivery in done.group]
            if outcomes:
                await session.execute(sa.insert(WebhookAttempt), [attempt for attempt, _ in outcomes])
                await session.execute(sa.update(WebhookDelivery), [change for _, change in outcomes])  # by primary key
            await self._count_endpoint(session, endpoint.id, tries)
            pause = timedelta(seconds=len(tries) * 60 / endpoint.rate_per_minute)
            await session.execute(sa.update(Webhook).where(Webhook.id == endpoint.id).values(next_send_at=now + pause))
        return len(tries)

    async def _send(self, endpoint: Webhook, url: str, secret: str | None, group: Sequence[WebhookDelivery]) -> "Try":
        at = self.ctx.clock.now()
        request = build_request(endpoint.kind, url, secret, group, at=at)
        started = time.perf_counter()
        outcome, status_code, error = await self._post(endpoint.kind, request)
        self.ctx.alert_metrics.deliveries.labels(endpoint.kind, outcome).inc(len(group))
        return Try(group, outcome, status_code, error, int((time.perf_counter() - started) * 1000), at)

    async def _post(self, kind: str, request: OutgoingRequest) -> tuple[str, int | None, str | None]:
        try:
            answer = await self.client.post(request.url, content=request.body, headers=request.headers)
        except DestinationRefused as refused:
            return "refused", None, f"the host {refused.reason}"
        except httpx.TimeoutException:
            return "timeout", None, "no answer in time"
        except httpx.HTTPError as error:
            return "network_error", None, type(error).__name__
        if not 200 <= answer.status_code < 300:
            return "http_error", answer.status_code, None
        if kind != "standard" and not accepted(kind, _json_or_empty(answer)):
            return "rejected", answer.status_code, answer.text[:300]
        return "delivered", answer.status_code, None

    def _outcome(self, delivery: WebhookDelivery, done: "Try") -> tuple[dict, dict]:
        """The try's log row, and the delivery's new state: delivered, failed for good, or its next try."""
        number, at = delivery.attempts + 1, done.at
        attempt = dict(id=new_id(), delivery_id=delivery.id, number=number, attempted_at=at, outcome=done.outcome,
                       status_code=done.status_code, duration_ms=done.duration_ms, error=done.error)
        change = dict(id=delivery.id, attempts=number, status="pending", delivered_at=None, next_attempt_at=None)
        if done.outcome == "delivered":
            change |= {"status": "delivered", "delivered_at": at}
        elif number >= self.settings.webhook_max_attempts:
            change |= {"status": "failed"}
        else:
            wait = backoff_seconds(number, base=self.settings.webhook_retry_base_seconds, cap=self.settings.webhook_retry_max_seconds)
            change |= {"next_attempt_at": at + timedelta(seconds=wait)}
        return attempt, change

    async def _count_endpoint(self, session: AsyncSession, webhook_id: str, tries: list["Try"]) -> None:
        if any(done.outcome == "delivered" for done in tries):
            await session.execute(sa.update(Webhook).where(Webhook.id == webhook_id).values(consecutive_failures=0))
        if not tries or tries[-1].outcome == "delivered":
            return
        failures = await session.scalar(
            sa.update(Webhook).where(Webhook.id == webhook_id)
            .values(consecutive_failures=Webhook.consecutive_failures + 1).returning(Webhook.consecutive_failures)
        )
        if failures >= self.settings.webhook_disable_after_failures:
            await session.execute(sa.update(Webhook).where(Webhook.id == webhook_id).values(
                enabled=False, disabled_reason=f"{failures} failed tries in a row"))


@dataclass(frozen=True)
class Try:
    group: Sequence[WebhookDelivery]
    outcome: str  # delivered, http_error, rejected, timeout, network_error, refused (the address)
    status_code: int | None
    error: str | None
    duration_ms: int
    at: datetime


def build_request(kind: str, url: str, secret: str | None, group: Sequence[WebhookDelivery], *, at: datetime) -> OutgoingRequest:
    if kind == "standard":
        [delivery] = group
        return signed_request(url, secret, message_id=f"msg_{delivery.event_id}", payload=delivery.body, at=at)
    return chat_request(kind, url, secret, [delivery.body for delivery in group], at=at)


def _json_or_empty(answer: httpx.Response) -> dict:
    try:
        body = answer.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}
