"""The embedded stack: all four services in one process, on the in-process bus, with SQLite."""

import asyncio
from collections.abc import Awaitable, Callable

from services.alerts.app import create_app as create_alerts
from services.common.data_dir import DataDirInUse, claimed
from services.common.observability import configure_logging
from services.common.runner import ensure_admin_key, serve
from services.common.service_app import Platform
from services.common.settings import SERVICE_PORTS, Settings
from services.feedback.app import create_app as create_feedback
from services.profiles.app import create_app as create_profiles
from services.scoring.app import create_app as create_scoring

FACTORIES = {"profiles": create_profiles, "feedback": create_feedback, "scoring": create_scoring, "alerts": create_alerts}


def build_apps(platform: Platform) -> dict:
    return {name: factory(platform) for name, factory in FACTORIES.items()}


async def run_embedded(settings: Settings, announce, before_serve: Callable[[Platform], Awaitable[None]] | None = None) -> None:
    """`before_serve` may add consumer groups of its own (tests do): they are registered on the bus
    before any service's relay runs, so they miss nothing."""
    settings = settings.model_copy(update={"port": 0, "bus": "inprocess"})
    configure_logging(settings.log_level)
    # The folder holds keys and (encrypted) personal data: the owner only.
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        with claimed(settings.data_dir):
            await _serve_embedded(settings, announce, before_serve)
    except DataDirInUse as error:
        raise SystemExit(str(error)) from None


async def _serve_embedded(settings: Settings, announce, before_serve) -> None:
    platform = Platform.from_settings(settings, client_id="pulse-embedded")
    key_file = settings.data_dir / "admin-api-key"
    new_key = await ensure_admin_key(platform, key_file)
    apps = build_apps(platform)
    if before_serve is not None:
        await before_serve(platform)

    def ready() -> None:
        ports = {name: SERVICE_PORTS[name] + settings.port_offset for name in apps}
        announce(ports, new_key, key_file)

    await serve(apps, settings, on_ready=ready)


def main(settings: Settings, announce) -> None:
    asyncio.run(run_embedded(settings, announce))
