"""Builds services for tests the way the runner does, with a recorder subscribed to every topic.

`service_harness("feedback", settings)` starts any service's app on SQLite or PostgreSQL (by
`settings.database_url`); `embedded_harness(settings)` starts all four on one in-process bus. A
`ManualClock` makes time move only when the test says so.
"""

import asyncio
import importlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa
from cryptography.fernet import Fernet
from fastapi import FastAPI

from services.common.bootstrap import all_topics
from services.common.clock import Clock
from services.common.delivery_tables import outbox
from services.common.events import Envelope, Message, from_message
from services.common.service_app import Platform
from services.common.settings import Settings

SERVICES = ("profiles", "feedback", "scoring", "alerts")


def settings_for_tests(data_dir, *, database_url: str = "", **overrides) -> Settings:
    values = dict(
        data_dir=data_dir, bus="inprocess", database_url=database_url,
        encryption_keys=Fernet.generate_key().decode(), hash_key="test-hash-key", outbox_poll_seconds=0.05,
        consumer_retry_base_seconds=0.01,
    )
    values.update(overrides)
    return Settings(**values)


@dataclass
class Recorder:
    """Every message the bus delivered, in order (a stand-in for a downstream subscriber)."""

    messages: list[Message] = field(default_factory=list)

    async def __call__(self, batch: list[Message]) -> None:
        self.messages.extend(batch)

    def events(self, event_type: str | None = None) -> list[Envelope]:
        envelopes = [from_message(message) for message in self.messages]
        return [envelope for envelope in envelopes if event_type is None or envelope.type == event_type]


@dataclass
class ServiceHarness:
    app: FastAPI
    client: httpx.AsyncClient
    platform: Platform
    admin_key: str
    recorder: Recorder

    def auth(self, key: str | None = None) -> dict:
        return {"Authorization": f"Bearer {key or self.admin_key}"}

    async def key_for(self, role: str) -> str:
        _, key = await self.platform.key_store.create(name=f"test {role}", role=role)
        return key

    async def drain_outbox(self) -> None:
        """Relays what is left, so that the recorder has seen every committed event. On PostgreSQL
        the relay holds back rows that a transaction still in flight (a job's, the timer loop's)
        might precede; those go once it ends, so this waits for them, up to 10 s."""
        relay = self.app.state.relay
        for _ in range(200):
            while await relay.relay_once():
                pass
            async with self.database.sessions() as session:
                if not await session.scalar(sa.select(sa.func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))):
                    return
            await asyncio.sleep(0.05)
        raise AssertionError("outbox rows still unsent after 10 s")

    async def fire_due_timers(self) -> int:
        """Fires what the clock says is due, now, instead of waiting for the timer loop."""
        return await self.app.state.timers.fire_due()

    @property
    def database(self):
        return self.app.state.database

    @property
    def context(self):
        return self.app.state.context

    @property
    def clock(self) -> Clock:
        return self.platform.clock


def create_app(service: str, platform: Platform) -> FastAPI:
    return importlib.import_module(f"services.{service}.app").create_app(platform)


def test_platform(settings: Settings, clock: Clock | None, service_settings: dict[str, Any]) -> tuple[Platform, Recorder]:
    platform = Platform.from_settings(settings, clock=clock, service_settings=service_settings)
    recorder = Recorder()
    platform.bus.subscribe("test-recorder", all_topics(settings), recorder)
    return platform, recorder


@asynccontextmanager
async def running(app: FastAPI, platform: Platform, recorder: Recorder, admin_key: str | None = None) -> AsyncIterator[ServiceHarness]:
    async with app.router.lifespan_context(app):
        if admin_key is None:
            _, admin_key = await platform.key_store.create(name="test admin", role="admin")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield ServiceHarness(app=app, client=client, platform=platform, admin_key=admin_key, recorder=recorder)


@asynccontextmanager
async def service_harness(service: str, settings: Settings, *, clock: Clock | None = None, **service_settings: Any) -> AsyncIterator[ServiceHarness]:
    platform, recorder = test_platform(settings, clock, service_settings)
    try:
        async with running(create_app(service, platform), platform, recorder) as harness:
            yield harness
    finally:
        await platform.key_store.database.dispose()


@asynccontextmanager
async def profiles_service(settings: Settings) -> AsyncIterator[ServiceHarness]:
    async with service_harness("profiles", settings) as harness:
        yield harness


@asynccontextmanager
async def embedded_harness(settings: Settings, *, clock: Clock | None = None, **service_settings: Any) -> AsyncIterator[dict[str, ServiceHarness]]:
    """All four services on one platform and one in-process bus, as `pulse run` has them.
    With one SQLite folder every service gets a file of its own, as in the embedded mode."""
    platform, recorder = test_platform(settings, clock, service_settings)
    apps = {service: create_app(service, platform) for service in SERVICES}
    try:
        async with AsyncExitStack() as stack:
            await platform.prepare_auth()
            _, admin_key = await platform.key_store.create(name="test admin", role="admin")
            harnesses = {}
            for service, app in apps.items():
                harnesses[service] = await stack.enter_async_context(running(app, platform, recorder, admin_key))
            yield harnesses
    finally:
        await platform.key_store.database.dispose()
