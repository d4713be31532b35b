"""Bounded shutdown steps, for the services and the relay process alike, and helper processes
that end with the process that started them."""

import asyncio
import ctypes
import logging
import os
import signal
import sys

log = logging.getLogger(__name__)


async def bounded_step(step: str, work, service: str, seconds: float = 15.0) -> None:
    """A shutdown step that hangs (a connection that never answers) must not keep the process up."""
    try:
        await asyncio.wait_for(work, timeout=seconds)
    except TimeoutError:
        log.warning("shutdown: %s did not finish within %s s", step, seconds, extra={"service": service})


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> None:
    """Run in a helper process (the relay, a worker of the offload pool) before it starts, given the
    pid of the process that started it: the kernel kills the helper when that process dies, even by
    kill -9, instead of leaving an orphan behind. A parent already gone by then (killed while the
    helper was still importing) is not noticed by the kernel, so the helper checks and ends itself."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)
