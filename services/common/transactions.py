"""One write as one transaction that a concurrent writer cannot turn into a 500.

On PostgreSQL two requests may race: both find no row with order_id X and both insert it; the
loser's unique violation surfaces at flush or at commit. Two transactions may also deadlock or,
under stricter isolation, fail to serialise. In each case the loser's transaction rolled back
whole, so running the same work again is safe, and the next run sees the winner's row and decides
as if the requests had come one after the other (200 for the same body, 409 for another)."""

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.database import Database
from services.common.errors import Problem

T = TypeVar("T")

UNIQUE_VIOLATION = "23505"
PASSING_FAILURES = {"40001", "40P01"}  # serialization failure, deadlock detected
ATTEMPTS = 5


def sqlstate(error: DBAPIError) -> str | None:
    """PostgreSQL's error code, whichever driver layer carries it; None on SQLite."""
    for candidate in (error.orig, getattr(error.orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if code:
            return code
    return None


async def write(database: Database, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Runs `work` in a transaction that commits when it returns; a race lost to another writer runs it again."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with database.transaction() as session:
                return await work(session)
        except DBAPIError as error:
            code = sqlstate(error)
            if code != UNIQUE_VIOLATION and code not in PASSING_FAILURES:
                raise
            if attempt == ATTEMPTS:
                raise _gave_up(code) from None
            # A short random pause, so that the writers that collided do not collide again in step.
            await asyncio.sleep(random.uniform(0, 0.02 * attempt))
    raise AssertionError("unreachable")


def _gave_up(code: str) -> Problem:
    if code == UNIQUE_VIOLATION:
        return Problem(409, "Conflict", "a concurrent request wrote the same record; send the request again")
    return Problem(503, "Busy", "concurrent changes kept colliding; send the request again", headers={"Retry-After": "1"})
