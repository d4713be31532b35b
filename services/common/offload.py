"""CPU-heavy pure functions (fitting a model over a million customers) run off the event loop."""

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from services.common.shutdown import die_with_parent


class Offloader:
    """A process pool made on first use: the GIL would otherwise stall every request meanwhile.
    Functions and arguments must be picklable (module-level functions over plain values and arrays)."""

    def __init__(self, workers: int = 1):
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        if self._pool is None:
            # spawn, not fork: a forked child would inherit the loop, sockets and locks of this process.
            # A worker dies with the service, even one killed with -9, instead of lingering as an orphan.
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=die_with_parent, initargs=(os.getpid(),))
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
