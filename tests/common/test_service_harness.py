"""Every service's app starts on SQLite and on PostgreSQL, with its own settings and context."""

import asyncio

import pytest
import sqlalchemy as sa

from services.common.context import ServiceContext
from tests.harness import SERVICES, embedded_harness, service_harness, settings_for_tests


@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_starts_and_is_ready(service, tmp_path, database_url):
    async with service_harness(service, settings_for_tests(tmp_path, database_url=database_url)) as harness:
        ready = await harness.client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["database"] == "ok"
        assert isinstance(harness.context, ServiceContext)
        assert harness.context.service == service
        assert harness.context.events.source == f"/pulse/{service}"


async def test_the_embedded_stack_runs_all_four_on_one_bus(tmp_path):
    async with embedded_harness(settings_for_tests(tmp_path)) as stack:
        assert set(stack) == set(SERVICES)
        assert len({harness.platform.bus for harness in stack.values()}) == 1
        for harness in stack.values():
            assert (await harness.client.get("/readyz")).status_code == 200


async def test_readiness_does_not_wait_for_a_writer_holding_the_sqlite_lock(tmp_path):
    async with service_harness("scoring", settings_for_tests(tmp_path)) as harness:
        # A long write, as a backlog being applied holds it: the service's own engine takes the lock.
        async with harness.database.transaction() as session:
            await session.execute(sa.text("SELECT 1"))
            ready = await asyncio.wait_for(harness.client.get("/readyz"), timeout=5)
        assert ready.status_code == 200, ready.text
