"""Dead letters: a record a consumer gave up on, kept once in its database and sent to `<topic>.dlq`.

What is said about the failure is the error's class and fixed codes, never its message: messages
carry SQL parameters and payload values, i.e. personal data.
"""

import hashlib
from dataclasses import dataclass

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.delivery_tables import dead_letters
from services.common.events import Message
from services.common.failures import database_code
from services.common.timeutil import utcnow

# error.code values (events.md): the record is not a CloudEvent of ours / names a type the catalog
# does not know / its payload fails the type's schema / the handler kept failing on it.
UNDECODABLE, UNKNOWN_TYPE, SCHEMA_INVALID, HANDLER_FAILED = "undecodable", "unknown_type", "schema_invalid", "handler_failed"


@dataclass(frozen=True)
class Failure:
    """Why a record is dead-lettered. `reason` is a fixed code and `field` a schema or header name."""

    code: str
    error_type: str
    reason: str | None = None
    field: str | None = None
    db_code: str | None = None
    event_id: str | None = None

    @classmethod
    def of_error(cls, code: str, error: BaseException, *, event_id: str | None = None) -> "Failure":
        return cls(code=code, error_type=type(error).__name__, db_code=database_code(error), event_id=event_id)

    def describe(self) -> str:
        """One line for the `error` column and the logs: class and codes only."""
        details = [f"{name}={value}" for name, value in
                   (("reason", self.reason), ("field", self.field), ("db_code", self.db_code)) if value]
        return " ".join([f"{self.error_type}: {self.code}", *details])


def error_headers(message: Message, failure: Failure, *, consumer: str, failed_at: str) -> tuple[tuple[str, bytes], ...]:
    values = {
        "error.code": failure.code,
        "error.type": failure.error_type,
        "error.reason": failure.reason,
        "error.field": failure.field,
        "error.db_code": failure.db_code,
        "error.consumer": consumer,
        "error.failed_at": failed_at,
        "error.topic": message.topic,
        "error.partition": None if message.partition is None else str(message.partition),
        "error.offset": None if message.offset is None else str(message.offset),
    }
    return tuple((name, value.encode()) for name, value in values.items() if value is not None)


def dlq_message(message: Message, failure: Failure, *, consumer: str) -> Message:
    headers = error_headers(message, failure, consumer=consumer, failed_at=utcnow().isoformat())
    return Message(topic=f"{message.topic}.dlq", key=message.key, value=message.value, headers=message.headers + headers)


def record_ref(message: Message, failure: Failure) -> str:
    """What makes a dead letter the same one when its record comes back: the event id, else the
    record's place in its partition, else (in process, undecodable) its content."""
    if failure.event_id:
        return f"event:{failure.event_id}"
    if message.partition is not None and message.offset is not None:
        return f"{message.topic}:{message.partition}:{message.offset}"
    digest = hashlib.sha256(message.key + (message.value or b""))
    for name, value in message.headers:
        digest.update(name.encode() + b"\0" + (value or b""))
    return f"sha256:{digest.hexdigest()}"


async def record_once(session: AsyncSession, message: Message, failure: Failure, *, consumer: str) -> bool:
    """Inserts the dead letter unless this consumer has it already; True when it is new."""
    values = dict(
        consumer=consumer, topic=message.topic, key=_text(message.key)[:100],
        headers={_text(name.encode()): None if value is None else _text(value) for name, value in message.headers},
        value=_text(message.value or b""), error=failure.describe(), failed_at=utcnow(),
        record_partition=message.partition, record_offset=message.offset, event_id=failure.event_id,
        record_ref=record_ref(message, failure),
    )
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(dead_letters).values(**values).on_conflict_do_nothing(index_elements=["consumer", "record_ref"])
    return (await session.execute(statement)).rowcount == 1


def _text(raw: bytes) -> str:
    # Kept for people to read; the exact bytes are on the DLQ topic. PostgreSQL text has no NUL.
    return raw.decode(errors="replace").replace("\x00", "\ufffd")
