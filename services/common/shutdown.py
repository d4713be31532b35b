"""Bounded shutdown steps, for the services and the relay process alike."""

import asyncio
import logging

log = logging.getLogger(__name__)


async def bounded_step(step: str, work, service: str, seconds: float = 15.0) -> None:
    """A shutdown step that hangs (a connection that never answers) must not keep the process up."""
    try:
        await asyncio.wait_for(work, timeout=seconds)
    except TimeoutError:
        log.warning("shutdown: %s did not finish within %s s", step, seconds, extra={"service": service})
