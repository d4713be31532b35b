"""Background jobs (scheduled refits, webhook delivery, purges) with one leader per database.

On PostgreSQL several instances of a service share a database: the instance holding the service's
leader lock (a session advisory lock on a connection of its own) runs the schedule; the others
retry for the lock, so one takes over when the leader dies. A job run on demand (`run_now`) takes
that job's own lock, so two runs of one job never overlap anywhere. SQLite has one process.
"""

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.database import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSpec:
    name: str
    every_seconds: float
    run: Callable[[Any], Awaitable[None]]  # receives the service's context
    leader_only: bool = True
    run_at_start: bool = False


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for a name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class AdvisoryLock:
    """A PostgreSQL session lock held on a connection of its own; on SQLite, held by this process.

    A re-entrant lock (the leader's) answers True again to its holder; a job's lock does not, so
    two runs of one job never overlap in one process either."""

    def __init__(self, database: Database, name: str, *, reentrant: bool = False):
        self.database = database
        self.key = lock_key(name)
        self.reentrant = reentrant
        self.held = False
        self._connection: AsyncConnection | None = None

    async def try_acquire(self) -> bool:
        if self.held:
            if not self.reentrant:
                return False
            if self._connection is not None:
                await self._connection.scalar(sa.select(1))  # ours only while its connection lives
            return True
        if self.database.is_postgres:
            connection = await self.database.engine.connect()
            try:
                taken = await connection.scalar(sa.select(sa.func.pg_try_advisory_lock(self.key)))
            except BaseException:
                await connection.close()
                raise
            if not taken:
                await connection.close()
                return False
            self._connection = connection
        self.held = True
        return True

    async def release(self) -> None:
        self.held = False
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await connection.scalar(sa.select(sa.func.pg_advisory_unlock(self.key)))
        except Exception:
            pass  # a broken connection took the lock with it
        finally:
            try:
                await connection.close()
            except Exception:
                pass


class JobRunner:
    def __init__(self, *, service: str, database: Database, jobs: list[JobSpec], retry_seconds: float = 5.0):
        self.service = service
        self.database = database
        self.jobs = {job.name: job for job in jobs}
        self.retry_seconds = retry_seconds
        self.context: Any = None
        self._leader = AdvisoryLock(database, f"{service}:jobs-leader", reentrant=True)
        self._job_locks = {name: AdvisoryLock(database, f"{service}:job:{name}") for name in self.jobs}
        self._wake = {name: asyncio.Event() for name in self.jobs}
        self._tasks: list[asyncio.Task] = []

    def bind(self, context: Any) -> None:
        self.context = context

    @property
    def is_leader(self) -> bool:
        return self._leader.held

    def start(self) -> None:
        for job in self.jobs.values():
            self._tasks.append(asyncio.create_task(self._schedule(job), name=f"{self.service}:job:{job.name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for lock in [self._leader, *self._job_locks.values()]:
            await lock.release()

    def trigger(self, name: str) -> bool:
        """Asks the local schedule to run the job now; False when this instance is not the leader."""
        self._wake[name].set()
        return self.is_leader or not self.jobs[name].leader_only

    async def run_now(self, name: str) -> bool:
        """Runs the job here and now unless a run of it is going on somewhere; says whether it ran."""
        lock = self._job_locks[name]
        if not await lock.try_acquire():
            return False
        try:
            await self.jobs[name].run(self.context)
        finally:
            await lock.release()
        return True

    async def _schedule(self, job: JobSpec) -> None:
        if job.leader_only:
            await self._become_leader()
        if job.run_at_start:
            await self._run_logged(job)
        while True:
            try:
                await asyncio.wait_for(self._wake[job.name].wait(), timeout=job.every_seconds)
            except TimeoutError:
                pass
            self._wake[job.name].clear()
            if job.leader_only:
                await self._become_leader()
            await self._run_logged(job)

    async def _become_leader(self) -> None:
        """Returns once this instance holds the leader lock (at once if it already does)."""
        while True:
            try:
                if await self._leader.try_acquire():
                    return
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the lock's connection died: the lock went with it
                log.warning("job leader lock lost: %s", type(error).__name__, extra={"service": self.service})
                await self._leader.release()
            await asyncio.sleep(self.retry_seconds)

    async def _run_logged(self, job: JobSpec) -> None:
        try:
            await self.run_now(job.name)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("job %s failed: %s", job.name, type(error).__name__, extra={"service": self.service})
