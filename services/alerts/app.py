"""The alerts service (port 8004): churn, follow-up, complaint SLA and detractor alerts, kept,
published on `pulse.alerts` and delivered to webhooks and chat robots."""

from pathlib import Path

import httpx
from fastapi import FastAPI

from services.alerts import api
from services.alerts.alerting import count_raised
from services.alerts.consumers import HANDLERS
from services.alerts.context import AlertsContext
from services.alerts.dispatch import PASS_SECONDS, deliver_webhooks
from services.alerts.metrics import AlertsMetrics
from services.alerts.secrets import alerts_cipher
from services.alerts.settings import AlertsSettings
from services.alerts.timers import TIMER_HANDLERS, measure_timers
from services.common.context import ServiceContext
from services.common.jobs import JobSpec
from services.common.service_app import Platform, ServiceSpec, build_service_app


def make_context(base: ServiceContext) -> AlertsContext:
    metrics = AlertsMetrics(base.metrics.registry)
    base.database.after_commit.append(lambda committed: count_raised(metrics, committed))
    return base.extended(AlertsContext, cipher=alerts_cipher(base.settings), alert_metrics=metrics,
                         tls=httpx.create_ssl_context())


SPEC = ServiceSpec(
    name="alerts",
    title="Customer Pulse — alerts",
    description="Churn warnings, missed follow-ups, complaint SLA breaches and detractors, to people, Kafka and webhooks.",
    routers=[api.router],
    migrations=Path(__file__).parent / "migrations",
    settings_class=AlertsSettings,
    handlers=HANDLERS,
    timers=TIMER_HANDLERS,
    jobs=[
        # Webhooks go out here, off the request and consumer paths; a slow receiver slows nothing else.
        JobSpec(name="webhooks", every_seconds=PASS_SECONDS, run=deliver_webhooks),
        JobSpec(name="timer-gauges", every_seconds=15.0, run=measure_timers, leader_only=False, run_at_start=True),
    ],
    make_context=make_context,
)


def create_app(platform: Platform) -> FastAPI:
    return build_service_app(SPEC, platform)
