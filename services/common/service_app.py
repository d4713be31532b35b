"""Builds one service's FastAPI app and wires its adapters in its lifespan (the one place)."""

import asyncio
import gc
import logging
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.common.api_docs import install_api_docs
from services.common.auth import KeyStore
from services.common.bootstrap import build_bus, build_key_store
from services.common.bus import Bus
from services.common.clock import Clock, SystemClock
from services.common.consumers import BatchFactory, EventConsumer, EventHandler
from services.common.context import ServiceContext
from services.common.cors import install_cors
from services.common.database import COMMON_MIGRATIONS, Database
from services.common.errors import install_problem_handlers
from services.common.event_writer import EventWriter
from services.common.http import ServiceMiddleware
from services.common.inbox import purge_inbox
from services.common.jobs import JobRunner, JobSpec
from services.common.observability import ServiceMetrics
from services.common.offload import Offloader
from services.common.oidc import OidcVerifier
from services.common.outbox import OutboxRelay
from services.common.settings import Settings
from services.common.shutdown import bounded_step
from services.common.timers import TimerHandler, TimerService

log = logging.getLogger(__name__)


@dataclass
class Platform:
    """The adapters that the services of one process share."""

    settings: Settings
    bus: Bus
    key_store: KeyStore
    clock: Clock = field(default_factory=SystemClock)
    # Values of service-specific settings that the environment does not give (tests set them here).
    service_settings: dict[str, Any] = field(default_factory=dict)
    token_verifier: OidcVerifier | None = None
    _auth_ready: asyncio.Lock = field(default_factory=asyncio.Lock)
    _auth_migrated: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, *, client_id: str = "pulse", clock: Clock | None = None,
                      service_settings: dict[str, Any] | None = None) -> "Platform":
        return cls(settings=settings, bus=build_bus(settings, client_id=client_id),
                   key_store=build_key_store(settings),
                   clock=clock or SystemClock(), service_settings=dict(service_settings or {}),
                   token_verifier=OidcVerifier.from_settings(settings))

    def settings_for(self, settings_class: type[Settings]) -> Settings:
        """The deployment's settings plus one service's own, all read from `PULSE_*` variables."""
        own = {name: value for name, value in self.service_settings.items() if name in settings_class.model_fields}
        return settings_class(**(self.settings.model_dump() | own))

    async def prepare_auth(self) -> None:
        async with self._auth_ready:
            if not self._auth_migrated:
                await self.key_store.database.migrate()
                self._auth_migrated = True


@dataclass
class ServiceSpec:
    name: str
    title: str
    description: str
    routers: list[APIRouter] = field(default_factory=list)
    migrations: Path | None = None
    settings_class: type[Settings] = Settings
    handlers: dict[str, EventHandler] = field(default_factory=dict)  # event type → handler (consumers.py)
    batch: BatchFactory | None = None  # per-batch state the handlers share, finished before the commit
    timers: dict[str, TimerHandler] = field(default_factory=dict)  # timer kind → handler
    jobs: list[JobSpec] = field(default_factory=list)
    # Builds the service's own context from the common one (e.g. `base.extended(FeedbackContext, …)`).
    make_context: Callable[[ServiceContext], ServiceContext] | None = None


def build_context(spec: ServiceSpec, platform: Platform) -> ServiceContext:
    settings = platform.settings_for(spec.settings_class)
    migrations = [COMMON_MIGRATIONS / "versions"] + ([spec.migrations] if spec.migrations else [])
    database = Database(settings.database_url_for(spec.name), migrations=migrations)
    jobs = JobRunner(service=spec.name, database=database, jobs=spec.jobs + ([_inbox_purge(settings)] if spec.handlers else []))
    base = ServiceContext(
        service=spec.name, settings=settings, database=database, clock=platform.clock, metrics=ServiceMetrics(spec.name),
        events=EventWriter(source=f"/pulse/{spec.name}", topics=settings.topics), offload=Offloader(settings.offload_workers),
        jobs=jobs,
    )
    context = spec.make_context(base) if spec.make_context else base
    jobs.bind(context)
    return context


def build_service_app(spec: ServiceSpec, platform: Platform) -> FastAPI:
    context = build_context(spec, platform)
    settings, database, metrics = context.settings, context.database, context.metrics
    consumer = None
    if spec.handlers:
        # Built with the app, so that its group is registered before any service's relay runs.
        consumer = EventConsumer(
            name=spec.name, handlers=spec.handlers, database=database, bus=platform.bus,
            topics=settings.topics, metrics=metrics, max_attempts=settings.consumer_max_attempts,
            retry_base_seconds=settings.consumer_retry_base_seconds,
            backoff_max_seconds=settings.consumer_backoff_max_seconds, context=context, batch=spec.batch,
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await platform.prepare_auth()
        await database.migrate()
        relay = OutboxRelay(
            database=database, bus=platform.bus, metrics=metrics,
            batch_size=settings.outbox_batch_size, poll_seconds=settings.outbox_poll_seconds,
            linger_seconds=settings.outbox_linger_seconds, lead=settings.outbox_relay == "inline",
        )
        timers = TimerService(database=database, handlers=spec.timers, metrics=metrics, clock=context.clock, context=context)
        database.after_commit.append(lambda info: info.get("outbox_written") and relay.wake())
        database.after_commit.append(lambda info: info.get("timers_changed") and timers.wake())
        app.state.relay = relay
        app.state.timers = timers
        if consumer is not None:
            consumer.attach()
        tasks = [asyncio.create_task(relay.run(), name=f"{spec.name}:outbox")]
        if spec.timers:
            tasks.append(asyncio.create_task(timers.run(), name=f"{spec.name}:timers"))
        context.jobs.start()
        await platform.bus.start()
        # What exists after start lives as long as the process: the collector need not walk it again
        # on every cycle, which keeps its pauses (and so tail latency) short.
        gc.freeze()
        log.info("%s started", spec.name, extra={"service": spec.name})
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await bounded_step("background tasks", asyncio.gather(*tasks, return_exceptions=True), spec.name)
            await bounded_step("jobs", context.jobs.stop(), spec.name)
            await bounded_step("bus", platform.bus.stop(), spec.name)
            await bounded_step("outbox relay", relay.close(), spec.name)
            context.offload.close()
            await bounded_step("database", database.dispose(), spec.name)

    app = FastAPI(title=spec.title, description=spec.description, version="1.0.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    install_api_docs(app)
    app.state.settings = settings
    app.state.context = context
    app.state.database = database
    app.state.metrics = metrics
    app.state.key_store = platform.key_store
    app.state.token_verifier = platform.token_verifier
    app.state.bus = platform.bus
    install_problem_handlers(app)
    app.add_middleware(ServiceMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    install_cors(app, settings)  # last, so outermost: error answers carry CORS headers too
    app.include_router(_operations_router(spec.name))
    for router in spec.routers:
        app.include_router(router)
    return app


def _inbox_purge(settings: Settings) -> JobSpec:
    """Forgets processed event ids after the retention; one instance per database does it."""

    async def purge(context: ServiceContext) -> None:
        older_than = context.clock.now() - timedelta(days=context.settings.inbox_retention_days)
        purged = await purge_inbox(context.database, older_than)
        if purged:
            log.info("purged %d inbox ids", purged, extra={"service": context.service})

    return JobSpec(name="inbox-purge", every_seconds=settings.inbox_purge_seconds, run=purge)


def _operations_router(service: str) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict:
        return {"status": "ok", "service": service}

    @router.get("/readyz", summary="The service can take traffic: its database answers, its topics exist")
    async def readyz(request: Request, response: Response) -> dict:
        checks: dict[str, str] = {}
        database: Database = request.app.state.database
        try:
            await database.answers()
            checks["database"] = "ok"
        except Exception as error:
            checks["database"] = f"failing: {type(error).__name__}"
        checks.update(request.app.state.bus.health())
        ready = all(value == "ok" for value in checks.values())
        response.status_code = 200 if ready else 503
        return {"status": "ready" if ready else "not ready", "service": service, "checks": checks}

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router
