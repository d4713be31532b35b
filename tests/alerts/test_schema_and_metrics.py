"""The frozen migration makes the tables the models describe; the metrics the issue asks for exist."""

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.alerts import alerting
from services.alerts.models import Alert, AlertRuleVersion, CustomerView, Webhook, WebhookAttempt, WebhookDelivery
from services.alerts.rules.decisions import Candidate
from services.common import catalog

MODELS = (Alert, AlertRuleVersion, CustomerView, Webhook, WebhookDelivery, WebhookAttempt)


def differences(connection) -> list:
    metadata = sa.MetaData()
    for model in MODELS:
        model.__table__.to_metadata(metadata)
    context = MigrationContext.configure(connection, opts={"compare_type": False})
    names = {model.__tablename__ for model in MODELS}
    return [diff for diff in compare_metadata(context, metadata)
            if not (diff[0] == "remove_table" and diff[1].name not in names)
            and not (diff[0] in ("remove_index", "remove_constraint") and diff[1].table.name not in names)]


async def test_the_migration_makes_the_tables_of_the_models(alerts):
    async with alerts.database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_metrics_alerts_by_kind_and_severity_timers_lateness_and_deliveries(alerts):
    now = alerts.clock.now()
    await alerts.send(catalog.TierChanged(customer_id="c-1", tier="high", changed_at=now))
    await alerts.send(catalog.LifecycleChanged(customer_id="c-1", stage="at_risk", changed_at=now))
    while not await alerts.context.jobs.run_now("timer-gauges"):  # after the run at start, if it is going
        await asyncio.sleep(0.01)
    text = (await alerts.client.get("/metrics")).text
    assert 'pulse_alerts_raised_total{kind="churn_risk",severity="critical"} 1.0' in text
    assert 'pulse_alerts_timers_pending{kind="alerts.follow_up"} 1.0' in text
    await alerts.advance(timedelta(days=30))
    text = (await alerts.client.get("/metrics")).text
    assert 'pulse_alerts_raised_total{kind="follow_up_due",severity="warning"} 1.0' in text
    assert 'pulse_alerts_timer_lateness_seconds_bucket{kind="alerts.follow_up",le="0.01"} 1.0' in text
    assert "pulse_webhook_deliveries_total" in text and "pulse_webhook_deliveries_pending" in text


async def test_an_alert_counts_once_its_transaction_commits(alerts):
    candidate = Candidate(kind="detractor", rule="detractor", severity="warning", customer_id="c-2", cause="survey:s-1")

    async def raise_it():
        async with alerts.database.transaction() as session:
            return await alerting.raise_alert(session, alerts.context, candidate, rule_version=0, quiet_hours=0,
                                              detected_at=alerts.clock.now())

    with pytest.raises(RuntimeError):
        async with alerts.database.transaction() as session:
            await alerting.raise_alert(session, alerts.context, candidate, rule_version=0, quiet_hours=0,
                                       detected_at=alerts.clock.now())
            raise RuntimeError("rolled back")
    assert 'pulse_alerts_raised_total{kind="detractor"' not in (await alerts.client.get("/metrics")).text
    assert await raise_it() is not None
    assert await raise_it() is None  # the open one stands in the way
    assert 'pulse_alerts_raised_total{kind="detractor",severity="warning"} 1.0' in (await alerts.client.get("/metrics")).text
