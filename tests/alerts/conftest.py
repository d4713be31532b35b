"""The alerts service under test: a clock the tests move, events put on its bus as the other
services would, its timers fired and its webhook passes run at the clock's moment."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import pytest

from services.common.catalog import EventPayload, topic_of
from services.common.clock import ManualClock
from services.common.events import envelope_for, to_message
from services.common.timeutil import utcnow
from tests.harness import ServiceHarness, service_harness, settings_for_tests


@dataclass
class AlertsHarness:
    service: ServiceHarness

    def __getattr__(self, name):
        return getattr(self.service, name)

    async def send(self, payload: EventPayload, *, backfill: bool = False) -> None:
        """As another service would publish it: the alerts consumer has applied it when this returns."""
        envelope = envelope_for(payload, source="/tests", backfill=backfill)
        topic = topic_of(payload.event_type, self.service.context.settings.topics)
        await self.service.platform.bus.publish([to_message(envelope, topic)])

    async def advance(self, delta: timedelta) -> None:
        """Moves the clock and waits until every timer due by then has fired (the loop or us)."""
        self.clock.advance(delta)
        timers = self.service.app.state.timers
        while True:
            await timers.fire_due()
            next_due = await timers.next_due_at()
            if next_due is None or next_due > self.clock.now():
                return
            await asyncio.sleep(0.01)  # the loop holds it (PostgreSQL skips locked rows): let it finish

    async def deliver(self) -> None:
        """One webhook pass at the clock's moment, after any pass the schedule has going."""
        while not await self.service.context.jobs.run_now("webhooks"):
            await asyncio.sleep(0.01)

    async def alert_events(self, event_type: str | None = None) -> list:
        await self.service.drain_outbox()
        return [event for event in self.service.recorder.events(event_type) if event.type.startswith("pulse.alert.")]


@asynccontextmanager
async def alerts_service(tmp_path, database_url: str, **service_settings) -> AsyncIterator[AlertsHarness]:
    clock = ManualClock(utcnow().replace(microsecond=0))
    settings = settings_for_tests(tmp_path, database_url=database_url)
    async with service_harness("alerts", settings, clock=clock, **service_settings) as harness:
        yield AlertsHarness(service=harness)


@pytest.fixture
async def alerts(tmp_path, database_url):
    async with alerts_service(tmp_path, database_url) as harness:
        yield harness
