"""Operator commands on the scoring service's database, run outside the service (`pulse scoring refit`)."""

import gc
from datetime import datetime

from services.common.service_app import Platform, build_context
from services.scoring import calibrations, lookups
from services.scoring.app import SPEC


def parse_moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"--as-of {value}: needs a time zone, e.g. 2026-01-31T00:00:00Z")
    return moment


async def refit_from_command_line(settings, *, as_of: str | None, model: str | None) -> dict:
    """Refits and re-scores everyone; the events go through the outbox, which the service relays."""
    if model not in (None, "mbgnbd", "bgnbd"):
        raise ValueError(f"--model {model}: must be mbgnbd or bgnbd")
    moment = parse_moment(as_of)
    platform = Platform.from_settings(settings)
    ctx = build_context(SPEC, platform)
    # What start-up made (modules, settings) is never garbage: frozen, the cyclic collector's full
    # passes during a million-customer re-score no longer walk it (they took 40 % of the scoring).
    gc.freeze()
    try:
        await ctx.database.migrate()
        await calibrations.refit(ctx, as_of=moment, model=model)
        async with ctx.database.sessions() as session:
            return (await lookups.model_status(session)).model_dump(mode="json")
    finally:
        ctx.offload.close()
        await ctx.database.dispose()
        await platform.key_store.database.dispose()
