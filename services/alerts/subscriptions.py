"""Webhook endpoints: created with their secret shown once (stored encrypted), listed, deleted,
enabled again, tested, and their delivery log."""

from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.context import AlertsContext
from services.alerts.destinations import DestinationRefused, check_url
from services.alerts.dispatch import add_delivery
from services.alerts.models import Webhook, WebhookAttempt, WebhookDelivery
from services.alerts.schemas import WebhookCreate
from services.alerts.webhooks.chat import DOCUMENTED_RATE_PER_MINUTE
from services.alerts.webhooks.standard import new_secret
from services.common.errors import Problem
from services.common.ids import new_id
from services.common.pagination import keyset_page


def display_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "…" if parts.query else "", ""))[:300]


async def create_webhook(session: AsyncSession, ctx: AlertsContext, body: WebhookCreate, *, by: str, at: datetime) -> tuple[Webhook, str | None]:
    if body.kind == "standard":
        if body.secret is not None:
            raise Problem(422, "Validation failed", "standard endpoints get a secret made for them", field="secret")
        secret = new_secret()
    else:
        secret = body.secret
    default_rate = DOCUMENTED_RATE_PER_MINUTE.get(body.kind, ctx.settings.webhook_rate_per_minute)
    url = str(body.url)
    try:
        await check_url(url, block_private=ctx.settings.webhook_block_private)
    except DestinationRefused as refused:
        raise Problem(422, "Validation failed", f"the URL's host {refused.reason}", field="url") from None
    webhook = Webhook(
        id=new_id(), kind=body.kind, url_enc=ctx.cipher.encrypt(url), url_display=display_url(url),
        secret_enc=ctx.cipher.encrypt(secret), alert_kinds=list(dict.fromkeys(body.alert_kinds)),
        min_severity=body.min_severity, rate_per_minute=body.rate_per_minute or default_rate, enabled=True,
        consecutive_failures=0, created_at=at, created_by=by,
    )
    session.add(webhook)
    await session.flush()
    return webhook, secret if body.kind == "standard" else None


async def get_webhook(session: AsyncSession, webhook_id: str) -> Webhook:
    webhook = await session.get(Webhook, webhook_id)
    if webhook is None:
        raise Problem(404, "Not found", f"no webhook '{webhook_id}'", field="webhook_id")
    return webhook


async def list_webhooks(session: AsyncSession, *, cursor: str | None, limit: int) -> tuple[list[Webhook], str | None]:
    return await keyset_page(session, sa.select(Webhook), time_column=Webhook.created_at, id_column=Webhook.id,
                             cursor=cursor, limit=limit)


async def delete_webhook(session: AsyncSession, webhook_id: str) -> None:
    await get_webhook(session, webhook_id)
    deliveries = sa.select(WebhookDelivery.id).where(WebhookDelivery.webhook_id == webhook_id)
    await session.execute(sa.delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries)))
    await session.execute(sa.delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id))
    await session.execute(sa.delete(Webhook).where(Webhook.id == webhook_id))


async def enable_webhook(session: AsyncSession, webhook_id: str) -> Webhook:
    webhook = await get_webhook(session, webhook_id)
    webhook.enabled, webhook.disabled_reason, webhook.consecutive_failures, webhook.next_send_at = True, None, 0, None
    return webhook


async def queue_test(session: AsyncSession, webhook_id: str, *, at: datetime) -> WebhookDelivery:
    webhook = await get_webhook(session, webhook_id)
    event_id = new_id()
    body = {"id": event_id, "type": "pulse.webhook.test", "timestamp": at.isoformat(),
            "data": {"kind": "test", "severity": "info", "webhook_id": webhook.id, "customer_id": "-", "alert_id": "-"}}
    return add_delivery(session, webhook.id, body, alert_id=None, at=at)


async def list_deliveries(session: AsyncSession, webhook_id: str, *, cursor: str | None, limit: int):
    await get_webhook(session, webhook_id)
    query = sa.select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    deliveries, next_cursor = await keyset_page(session, query, time_column=WebhookDelivery.created_at,
                                                id_column=WebhookDelivery.id, cursor=cursor, limit=limit)
    attempts = (await session.scalars(
        sa.select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_([d.id for d in deliveries])).order_by(WebhookAttempt.number)
    )).all()
    by_delivery: dict[str, list[WebhookAttempt]] = {}
    for attempt in attempts:
        by_delivery.setdefault(attempt.delivery_id, []).append(attempt)
    return [(delivery, by_delivery.get(delivery.id, [])) for delivery in deliveries], next_cursor
