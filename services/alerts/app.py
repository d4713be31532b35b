"""The alerts service (port 8004): churn, follow-up, complaint SLA and detractor alerts, kept,
published on `pulse.alerts` and delivered to webhooks and chat robots."""

import asyncio
import contextlib
import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.alerts import api
from services.alerts.consumers import HANDLERS
from services.alerts.context import AlertsContext, Delivery, TimerDelivery
from services.alerts.dispatch import Dispatcher
from services.alerts.metrics import AlertsMetrics
from services.alerts.secrets import alerts_cipher
from services.alerts.settings import AlertsSettings
from services.alerts.timers import TIMER_HANDLERS, count_pending
from services.common.service_app import Platform, ServiceSpec, build_service_app

log = logging.getLogger(__name__)

NAME = "alerts"
TITLE = "Customer Pulse — alerts"
DESCRIPTION = "Churn warnings, missed follow-ups, complaint SLA breaches and detractors, to people, Kafka and webhooks."
MIGRATIONS = Path(__file__).parent / "migrations"


def _bind_event(handler, ctx):
    async def bound(session, envelope, payload):
        await handler(Delivery(session=session, envelope=envelope, context=ctx), payload)
    return bound


def _bind_timer(handler, ctx):
    async def bound(session, timer):
        await handler(TimerDelivery(session=session, timer=timer, context=ctx))
    return bound


def create_app(platform: Platform, *, clock=None, background: bool = True) -> FastAPI:
    """`background=False`: tests run the webhook passes themselves, at the moments they choose."""
    settings = AlertsSettings(**platform.settings.model_dump())
    ctx = AlertsContext(settings=settings, cipher=alerts_cipher(settings), metrics=None)
    if clock is not None:
        ctx.clock = clock
    timer_handlers = {kind: _bind_timer(handler, ctx) for kind, handler in TIMER_HANDLERS.items()}
    spec = ServiceSpec(
        name=NAME, title=TITLE, description=DESCRIPTION, routers=[api.router], migrations=MIGRATIONS,
        event_handlers={event_type: _bind_event(handler, ctx) for event_type, handler in HANDLERS.items()},
        timer_handlers=timer_handlers,
    )
    app = build_service_app(spec, platform)
    app.state.timer_handlers = timer_handlers
    ctx.metrics = AlertsMetrics(app.state.metrics.registry)
    app.state.alerts = ctx
    dispatcher = Dispatcher(ctx, app.state.database)
    app.state.dispatcher = dispatcher
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with inner(app):
            task = asyncio.create_task(_background(ctx, app, dispatcher) if background else asyncio.Event().wait(),
                                       name="alerts:webhooks")
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await dispatcher.close()

    app.router.lifespan_context = lifespan
    return app


async def _background(ctx: AlertsContext, app: FastAPI, dispatcher: Dispatcher) -> None:
    """Webhook delivery and the pending-timer gauge, off the request and consumer paths."""
    while True:
        try:
            await dispatcher.run_once()
            async with app.state.database.sessions() as session:
                for kind, count in (await count_pending(session)).items():
                    ctx.metrics.timers_pending.labels(kind).set(count)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("webhook dispatch failed; retrying", extra={"service": NAME})
        await asyncio.sleep(ctx.settings.webhook_dispatch_seconds)
