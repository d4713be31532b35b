"""Builds services for tests the way the runner does, with a recorder subscribed to every topic."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from cryptography.fernet import Fernet
from fastapi import FastAPI

from services.common.bootstrap import all_topics
from services.common.events import Envelope, Message, from_message
from services.common.service_app import Platform
from services.common.settings import Settings
from services.feedback.app import create_app as create_feedback
from services.profiles.app import create_app as create_profiles


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
        """Relays what is left, so that the recorder has seen every committed event."""
        while await self.app.state.relay.relay_once():
            pass

    async def fire_timers(self) -> int:
        """Fires the timers due by the service's clock now (the loop would, within a second)."""
        return await self.app.state.timers.fire_due()

    @property
    def database(self):
        return self.app.state.database


@asynccontextmanager
async def running(app: FastAPI, platform: Platform, recorder: Recorder) -> AsyncIterator[ServiceHarness]:
    async with app.router.lifespan_context(app):
        _, admin_key = await platform.key_store.create(name="test admin", role="admin")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield ServiceHarness(app=app, client=client, platform=platform, admin_key=admin_key, recorder=recorder)
    await platform.key_store.database.dispose()


class ManualClock:
    """A clock the test moves; it never moves by itself."""

    def __init__(self, start: datetime):
        self.moment = start

    def now(self) -> datetime:
        return self.moment

    def advance(self, by: timedelta | float) -> None:
        self.moment += by if isinstance(by, timedelta) else timedelta(seconds=by)

    def set(self, moment: datetime) -> None:
        self.moment = moment


@asynccontextmanager
async def service(create_app, settings: Settings, **options) -> AsyncIterator[ServiceHarness]:
    platform = Platform.from_settings(settings)
    recorder = Recorder()
    platform.bus.subscribe("test-recorder", all_topics(settings), recorder)
    async with running(create_app(platform, **options), platform, recorder) as harness:
        yield harness


def feedback_service(settings: Settings, *, clock: ManualClock | None = None):
    return service(create_feedback, settings, clock=clock)


@asynccontextmanager
async def profiles_service(settings: Settings) -> AsyncIterator[ServiceHarness]:
    async with service(create_profiles, settings) as harness:
        yield harness
