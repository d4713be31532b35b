"""The alerts service under test: a clock the tests move, events put on its bus as the other
services would, and its timers fired at the clock's moment."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from services.alerts.app import create_app as create_alerts
from services.common.bootstrap import all_topics
from services.common.catalog import EventPayload, topic_of
from services.common.events import envelope_for, to_message
from services.common.observability import ServiceMetrics
from services.common.service_app import Platform
from services.common.timers import TimerService
from services.common.timeutil import utcnow
from tests.harness import Recorder, ServiceHarness, running, settings_for_tests


class ManualClock:
    def __init__(self, start: datetime):
        self.moment = start

    def now(self) -> datetime:
        return self.moment

    def advance(self, delta: timedelta) -> None:
        self.moment += delta


@dataclass
class AlertsHarness:
    service: ServiceHarness
    clock: ManualClock

    def __getattr__(self, name):
        return getattr(self.service, name)

    async def send(self, payload: EventPayload, *, backfill: bool = False) -> None:
        envelope = envelope_for(payload, source="/tests", backfill=backfill)
        topic = topic_of(payload.event_type, self.service.platform.settings.topics)
        await self.service.platform.bus.publish([to_message(envelope, topic)])

    async def fire_timers(self) -> int:
        """Fires what is due at the clock's moment, as the timer loop would at that moment."""
        timers = TimerService(database=self.service.database, handlers=self.service.app.state.timer_handlers,
                              metrics=ServiceMetrics("alerts-test"))
        fired = 0
        while count := await timers.fire_due(now=self.clock.now()):
            fired += count
        return fired

    async def alert_events(self, event_type: str | None = None) -> list:
        await self.service.drain_outbox()
        return [event for event in self.service.recorder.events(event_type) if event.type.startswith("pulse.alert.")]


@asynccontextmanager
async def alerts_service(settings, clock: ManualClock) -> AsyncIterator[AlertsHarness]:
    platform = Platform.from_settings(settings)
    recorder = Recorder()
    platform.bus.subscribe("test-recorder", all_topics(settings), recorder)
    async with running(create_alerts(platform, clock=clock, background=False), platform, recorder) as harness:
        yield AlertsHarness(service=harness, clock=clock)


@pytest.fixture
async def alerts(tmp_path, database_url):
    # The clock starts a little after real time, so the service's own timer loop (on real time)
    # leaves the timers to the test.
    clock = ManualClock(utcnow().replace(microsecond=0) + timedelta(minutes=5))
    async with alerts_service(settings_for_tests(tmp_path, database_url=database_url), clock) as harness:
        yield harness
