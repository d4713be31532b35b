"""Process entry points: one service alone (distributed) or all four in one process (embedded)."""

import asyncio
import contextlib
import importlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import uvicorn
import uvloop
from fastapi import FastAPI
from uvicorn.supervisors import Multiprocess

from services.common.clock import Clock
from services.common.observability import configure_logging
from services.common.service_app import Platform
from services.common.settings import Settings
from services.common.shutdown import die_with_parent

AppFactory = Callable[[Platform], FastAPI]


class _QuietServer(uvicorn.Server):
    """Several servers share one process; signals are handled once, by the caller."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


def _server(app: FastAPI, host: str, port: int) -> _QuietServer:
    config = uvicorn.Config(app, host=host, port=port, lifespan="on", log_config=None, access_log=False)
    return _QuietServer(config)


async def serve(apps: dict[str, FastAPI], settings: Settings, on_ready: Callable[[], None] | None = None) -> None:
    servers = [_server(app, settings.host, settings.port_for(name)) for name, app in apps.items()]
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, lambda: [setattr(server, "should_exit", True) for server in servers])
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    while not all(server.started for server in servers):
        if any(task.done() for task in tasks):
            break
        await asyncio.sleep(0.05)
    if all(server.started for server in servers) and on_ready:
        on_ready()
    await asyncio.gather(*tasks)


def run_service(name: str, create_app: AppFactory, clock: Clock | None = None) -> None:
    """`clock`: the time the service reads (the wall clock when None); a test's launcher may give its own."""
    settings = Settings()
    if settings.bus == "inprocess":
        # Alone in its process, an in-process bus has no other service behind it: events would be
        # marked sent with nobody having read them.
        raise SystemExit(f"{name} alone needs PULSE_BUS=kafka (the in-process bus is for `pulse run`, all services in one process)")
    configure_logging(settings.log_level)
    relay = _start_relay_process(name, settings) if settings.outbox_relay == "process" else None
    try:
        if settings.workers > 1:
            _run_workers(name, settings)
            return
        platform = Platform.from_settings(settings, client_id=f"pulse-{name}", clock=clock)
        uvloop.run(serve({name: create_app(platform)}, settings))
    finally:
        if relay is not None:
            _stop(relay)


def _start_relay_process(name: str, settings: Settings) -> subprocess.Popen:
    """The relay beside the API, so the two do not share one interpreter (see relay_process.py).
    On SQLite a second process could not keep the events' order, so it is refused."""
    if not settings.database_url_for(name).startswith("postgresql"):
        raise SystemExit("PULSE_OUTBOX_RELAY=process needs PostgreSQL (PULSE_DATABASE_URL)")
    # Killed with the service, even by kill -9 (a send the broker never answered could otherwise keep
    # an orphan alive); what it had not marked sent, the restarted service's relay sends again.
    return subprocess.Popen([sys.executable, "-m", "services.common.relay_process", name], preexec_fn=partial(die_with_parent, os.getpid()))


def _stop(process: subprocess.Popen, seconds: float = 20.0) -> None:
    process.terminate()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _run_workers(name: str, settings: Settings) -> None:
    """Several processes on one port; on PostgreSQL their relays elect one leader, so events keep
    their order. SQLite has no such lock, so it is refused."""
    if not settings.database_url_for(name).startswith("postgresql"):
        raise SystemExit("PULSE_WORKERS > 1 needs PostgreSQL (PULSE_DATABASE_URL)")
    os.environ["PULSE_SERVICE"] = name
    config = _TcpConfig(
        "services.common.runner:service_app_from_environment", factory=True, host=settings.host,
        port=settings.port_for(name), workers=settings.workers, log_config=None, access_log=False, lifespan="on",
    )
    Multiprocess(config, sockets=[config.bind_socket()]).run()


class _TcpConfig(uvicorn.Config):
    """asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets whose protocol number says
    TCP; the shared socket of several workers is made with protocol 0, and every small answer then
    waited some 40 ms for a delayed acknowledgement."""

    def bind_socket(self) -> socket.socket:
        bound = super().bind_socket()
        return socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, fileno=bound.detach())


def service_app_from_environment() -> FastAPI:
    """The app of one worker process (PULSE_WORKERS > 1), for the service named in PULSE_SERVICE."""
    settings = Settings()
    configure_logging(settings.log_level)
    name = os.environ["PULSE_SERVICE"]
    factory: AppFactory = importlib.import_module(f"services.{name}.app").create_app
    return factory(Platform.from_settings(settings, client_id=f"pulse-{name}"))


async def ensure_admin_key(platform: Platform, key_file: Path) -> str | None:
    """First start of the embedded stack: make an admin key, keep it readable by the owner only."""
    await platform.prepare_auth()
    if await platform.key_store.count_active() > 0:
        return None
    _, key = await platform.key_store.create(name="first admin", role="admin")
    key_file.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key + "\n")
    return key
