"""No event is lost in the embedded mode, or by a service run alone."""

import asyncio
import os
import subprocess
import sys
from contextlib import AsyncExitStack
from pathlib import Path

import httpx

from services.common.catalog import CustomerCreated, PurchaseRecorded
from services.common.consumers import EventConsumer
from services.common.database import COMMON_MIGRATIONS, Database
from services.common.observability import ServiceMetrics
from services.common.service_app import Platform
from services.embedded import build_apps
from tests.harness import settings_for_tests
from tests.integration.kafka_tools import eventually

ROOT = Path(__file__).resolve().parents[2]


async def test_a_consumer_group_of_the_embedded_stack_receives_every_event_written_before_it_subscribed(tmp_path):
    settings = settings_for_tests(tmp_path)
    platform = Platform.from_settings(settings)
    apps = build_apps(platform)
    seen: list[str] = []

    async def record(delivery, payload) -> None:
        seen.append(delivery.envelope.id)

    late_database = Database(f"sqlite+aiosqlite:///{tmp_path / 'late.db'}", migrations=[COMMON_MIGRATIONS / "versions"])
    await late_database.migrate()
    late = EventConsumer(  # built with the stack, as a service's consumer is; subscribes only later
        name="late-reader", handlers={CustomerCreated.event_type: record, PurchaseRecorded.event_type: record},
        database=late_database, bus=platform.bus, topics=settings.topics, metrics=ServiceMetrics("late-reader"),
    )
    async with AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        _, key = await platform.key_store.create(name="test admin", role="admin")
        profiles = apps["profiles"]
        transport = httpx.ASGITransport(app=profiles)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers={"Authorization": f"Bearer {key}"}) as client:
            customer_id = (await client.post("/v1/customers", json={"name": "陈晓"})).json()["id"]
            for number in range(3):
                purchase = {"order_id": f"o-{number}", "customer_id": customer_id, "amount": "1.00",
                            "occurred_at": "2026-06-01T10:00:00+08:00"}
                assert (await client.post("/v1/purchases", json=purchase)).status_code == 201
        relay = profiles.state.relay
        await asyncio.sleep(0.5)  # the relay polls every 0.05 s here: it had its chances
        assert await relay.backlog() == 4, "rows were marked sent before every group had them"

        late.attach()
        assert await eventually(lambda: _backlog_is_empty(relay), timeout=10)
        assert len(seen) == 4
        assert len(set(seen)) == 4
    await platform.key_store.database.dispose()
    await late_database.dispose()


async def _backlog_is_empty(relay) -> bool:
    return await relay.backlog() == 0


def test_a_service_alone_refuses_the_in_process_bus_in_one_line(tmp_path):
    env = os.environ | {"PULSE_BUS": "inprocess", "PULSE_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "services.profiles"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "PULSE_BUS=kafka" in result.stderr
