"""Routes of the alerts service: validate, call the service functions, shape the answer."""

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Response

from services.alerts import alerting, subscriptions
from services.alerts.context import AlertsContext
from services.alerts.models import Alert, AlertRuleVersion, Webhook
from services.alerts.rules.config import RuleSet, Severity
from services.alerts.schemas import (
    AlertChange, AlertKind, AlertOut, AlertStatus, AttemptOut, DeliveryOut, RulesOut, TestQueued, WebhookCreate,
    WebhookCreated, WebhookOut,
)
from services.common.auth import Principal, require
from services.common.deps import DatabaseDep, service_context
from services.common.pagination import DEFAULT_PAGE_SIZE, Cursor, Limit, Page, keyset_page




ContextDep = Annotated[AlertsContext, Depends(service_context)]
Reader = Annotated[Principal, Depends(require("alerts:read"))]
Manager = Annotated[Principal, Depends(require("alerts:manage"))]
RulesWriter = Annotated[Principal, Depends(require("alert-rules:write"))]
WebhookAdmin = Annotated[Principal, Depends(require("webhooks:manage"))]

router = APIRouter(prefix="/v1")


def _alert_out(alert: Alert, principal: Principal) -> AlertOut:
    out = AlertOut.model_validate(alert, from_attributes=True)
    return out if principal.may("alerts:notes") else out.model_copy(update={"note": None})


# --- alerts ------------------------------------------------------------------------------------

@router.get("/alerts", response_model=Page[AlertOut], tags=["alerts"], summary="List alerts, oldest first")
async def list_alerts(
    db: DatabaseDep, principal: Reader, kind: AlertKind | None = None, status: AlertStatus | None = None,
    severity: Severity | None = None, customer_id: Annotated[str | None, Query(max_length=36)] = None,
    cursor: Cursor = None, limit: Limit = DEFAULT_PAGE_SIZE,
):
    query = sa.select(Alert)
    for column, value in ((Alert.kind, kind), (Alert.status, status), (Alert.severity, severity), (Alert.customer_id, customer_id)):
        if value is not None:
            query = query.where(column == value)
    async with db.sessions() as session:
        rows, next_cursor = await keyset_page(session, query, time_column=Alert.created_at, id_column=Alert.id, cursor=cursor, limit=limit)
    return Page(items=[_alert_out(row, principal) for row in rows], next_cursor=next_cursor)


@router.get("/alerts/{alert_id}", response_model=AlertOut, tags=["alerts"], summary="Get an alert")
async def get_alert(alert_id: str, db: DatabaseDep, principal: Reader):
    async with db.sessions() as session:
        return _alert_out(await alerting.get_alert(session, alert_id), principal)


@router.post("/alerts/{alert_id}:acknowledge", response_model=AlertOut, tags=["alerts"], summary="Acknowledge an open alert")
async def acknowledge_alert(alert_id: str, db: DatabaseDep, ctx: ContextDep, principal: Manager, body: AlertChange | None = None):
    async with db.transaction() as session:
        alert = await alerting.get_alert(session, alert_id, for_update=True)
        await alerting.acknowledge(session, ctx, alert, by=principal.subject, note=(body or AlertChange()).note, at=ctx.clock.now())
    return _alert_out(alert, principal)


@router.post("/alerts/{alert_id}:resolve", response_model=AlertOut, tags=["alerts"], summary="Resolve an alert")
async def resolve_alert(alert_id: str, db: DatabaseDep, ctx: ContextDep, principal: Manager, body: AlertChange | None = None):
    async with db.transaction() as session:
        alert = await alerting.get_alert(session, alert_id, for_update=True)
        await alerting.resolve(session, ctx, alert, by=principal.subject, resolution="manual",
                               note=(body or AlertChange()).note, at=ctx.clock.now())
    return _alert_out(alert, principal)


# --- rules -------------------------------------------------------------------------------------

async def _rules_out(session) -> RulesOut:
    version, rules = await alerting.current_rules(session)
    stored = await session.get(AlertRuleVersion, version) if version else None
    return RulesOut(version=version, rules=rules, created_at=stored and stored.created_at, created_by=stored and stored.created_by)


@router.get("/alert-rules", response_model=RulesOut, tags=["alert rules"], summary="The rules in force and their version")
async def get_rules(db: DatabaseDep, _: Reader):
    async with db.sessions() as session:
        return await _rules_out(session)


@router.put("/alert-rules", response_model=RulesOut, tags=["alert rules"], summary="Replace the rules: a new version")
async def put_rules(body: RuleSet, db: DatabaseDep, ctx: ContextDep, principal: RulesWriter):
    async with db.transaction() as session:
        await alerting.save_rules(session, body, by=principal.subject, at=ctx.clock.now())
        return await _rules_out(session)


# --- webhooks ----------------------------------------------------------------------------------

def _webhook_out(webhook: Webhook) -> dict:
    return dict(id=webhook.id, kind=webhook.kind, url=webhook.url_display, alert_kinds=webhook.alert_kinds,
                min_severity=webhook.min_severity, rate_per_minute=webhook.rate_per_minute, enabled=webhook.enabled,
                disabled_reason=webhook.disabled_reason, consecutive_failures=webhook.consecutive_failures,
                created_at=webhook.created_at, has_secret=webhook.secret_enc is not None)


@router.post("/webhooks", status_code=201, response_model=WebhookCreated, tags=["webhooks"],
             summary="Add an endpoint; a standard endpoint's secret is in this answer only")
async def create_webhook(body: WebhookCreate, db: DatabaseDep, ctx: ContextDep, principal: WebhookAdmin):
    async with db.transaction() as session:
        webhook, secret = await subscriptions.create_webhook(session, ctx, body, by=principal.subject, at=ctx.clock.now())
    return WebhookCreated(**_webhook_out(webhook), secret=secret)


@router.get("/webhooks", response_model=Page[WebhookOut], tags=["webhooks"], summary="List endpoints")
async def list_webhooks(db: DatabaseDep, _: WebhookAdmin, cursor: Cursor = None, limit: Limit = DEFAULT_PAGE_SIZE):
    async with db.sessions() as session:
        rows, next_cursor = await subscriptions.list_webhooks(session, cursor=cursor, limit=limit)
    return Page(items=[WebhookOut(**_webhook_out(row)) for row in rows], next_cursor=next_cursor)


@router.delete("/webhooks/{webhook_id}", status_code=204, tags=["webhooks"], summary="Remove an endpoint and its log")
async def delete_webhook(webhook_id: str, db: DatabaseDep, _: WebhookAdmin):
    async with db.transaction() as session:
        await subscriptions.delete_webhook(session, webhook_id)
    return Response(status_code=204)


@router.post("/webhooks/{webhook_id}:enable", response_model=WebhookOut, tags=["webhooks"],
             summary="Enable an endpoint again after it was disabled for failing")
async def enable_webhook(webhook_id: str, db: DatabaseDep, _: WebhookAdmin):
    async with db.transaction() as session:
        webhook = await subscriptions.enable_webhook(session, webhook_id)
    return WebhookOut(**_webhook_out(webhook))


@router.post("/webhooks/{webhook_id}:test", status_code=202, response_model=TestQueued, tags=["webhooks"],
             summary="Queue a test message; its tries show in the delivery log")
async def test_webhook(webhook_id: str, db: DatabaseDep, ctx: ContextDep, _: WebhookAdmin):
    async with db.transaction() as session:
        delivery = await subscriptions.queue_test(session, webhook_id, at=ctx.clock.now())
    return TestQueued(delivery_id=delivery.id)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=Page[DeliveryOut], tags=["webhooks"],
            summary="The delivery log: every event sent to the endpoint, with every try")
async def list_deliveries(webhook_id: str, db: DatabaseDep, _: WebhookAdmin, cursor: Cursor = None, limit: Limit = DEFAULT_PAGE_SIZE):
    async with db.sessions() as session:
        rows, next_cursor = await subscriptions.list_deliveries(session, webhook_id, cursor=cursor, limit=limit)
    items = [
        DeliveryOut(**{name: getattr(delivery, name) for name in DeliveryOut.model_fields if name != "tries"},
                    tries=[AttemptOut.model_validate(attempt, from_attributes=True) for attempt in attempts])
        for delivery, attempts in rows
    ]
    return Page(items=items, next_cursor=next_cursor)
