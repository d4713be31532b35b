"""What a consumer does with an error: wait and try again (a passing failure) or give up on one record.

Only the error's class and fixed codes ever leave this module: exception messages often carry SQL
parameters or payload values, i.e. personal data.
"""

import sqlite3

import sqlalchemy as sa
from aiokafka.errors import KafkaError

# PostgreSQL SQLSTATEs that pass by themselves: connection lost or refused (class 08), not enough
# resources (53), system errors (58), shutdown or start-up (57P01..57P03), cancelled by a timeout
# (57014), serialization failure (40001), deadlock (40P01), lock not available (55P03).
TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "58")
TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03", "57P04"}
# SQLite primary result codes: busy ("database is locked"), locked, I/O error, cannot open.
TRANSIENT_SQLITE_CODES = {5, 6, 10, 14}


class DeliverAgain(Exception):
    """Raised by a batch handler: the first `done` messages are committed; the bus delivers the
    rest again after `delay_seconds`, without blocking its other partitions meanwhile."""

    def __init__(self, *, done: int, delay_seconds: float):
        super().__init__(f"{done} done; deliver the rest again in {delay_seconds:.1f} s")
        self.done = done
        self.delay_seconds = delay_seconds


def is_transient(error: BaseException) -> bool:
    """True for failures that pass by themselves: the database or network away, a lock, a
    serialization conflict. Anything else is the record's own problem."""
    for cause in _causes(error):
        if isinstance(cause, sa.exc.DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(cause, (sa.exc.TimeoutError, sa.exc.DisconnectionError, OSError, TimeoutError)):
            return True
        if isinstance(cause, KafkaError):  # e.g. the DLQ cannot be written while the broker is away
            return True
        sqlstate = sqlstate_of(cause)
        if sqlstate is not None:
            return sqlstate.startswith(TRANSIENT_SQLSTATE_CLASSES) or sqlstate in TRANSIENT_SQLSTATES
        if isinstance(cause, sqlite3.OperationalError):
            code = getattr(cause, "sqlite_errorcode", None)
            if code is not None:
                return code & 0xFF in TRANSIENT_SQLITE_CODES
            return "locked" in str(cause)  # aiosqlite may re-raise without the code
    return False


def sqlstate_of(error: BaseException) -> str | None:
    sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return sqlstate if isinstance(sqlstate, str) else None


def database_code(error: BaseException) -> str | None:
    """The database's own code for the error (SQLSTATE, or SQLite's result code name), if any."""
    for cause in _causes(error):
        sqlstate = sqlstate_of(cause)
        if sqlstate is not None:
            return sqlstate
        if isinstance(cause, sqlite3.Error) and getattr(cause, "sqlite_errorname", None):
            return cause.sqlite_errorname
    return None


def _causes(error: BaseException):
    """The error, what it wraps (`orig` of SQLAlchemy errors) and what caused it, each once."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        cause = pending.pop(0)
        if not isinstance(cause, BaseException) or id(cause) in seen or len(seen) > 20:
            continue
        seen.add(id(cause))
        yield cause
        pending.extend([getattr(cause, "orig", None), cause.__cause__, cause.__context__])
