"""The CloudEvents envelope and its Kafka binary-mode encoding (events.md "Envelope")."""

from dataclasses import dataclass, field
from datetime import datetime

import orjson
from pydantic import BaseModel

from services.common.ids import new_id
from services.common.timeutil import utcnow

CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class Envelope:
    type: str
    source: str
    subject: str
    data: dict
    id: str = field(default_factory=new_id)
    time: datetime = field(default_factory=utcnow)
    backfill: bool = False


@dataclass(frozen=True)
class Message:
    """A record as it travels on a bus: the same shape on Kafka and in process.

    A foreign producer may send a record without a value or with null headers (None here); where a
    record was read from Kafka, `partition` and `offset` say where."""

    topic: str
    key: bytes
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    partition: int | None = None
    offset: int | None = None

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name and value is not None:
                return value.decode(errors="replace")
        return None


class Undecodable(Exception):
    """A record that is not one of our CloudEvents. `reason` is a fixed code and `field` a header
    name of the envelope; neither carries a value of the record."""

    def __init__(self, reason: str, field: str | None = None):
        super().__init__(reason if field is None else f"{reason}: {field}")
        self.reason = reason
        self.field = field


REQUIRED_HEADERS = ("ce_specversion", "ce_id", "ce_source", "ce_type")
ENVELOPE_HEADERS = {*REQUIRED_HEADERS, "ce_time", "ce_subject", "ce_backfill", "content-type"}
MAX_ID_LENGTH = 36  # the inbox keeps ids in a column of this size


def envelope_for(payload: BaseModel, *, source: str, backfill: bool = False) -> Envelope:
    """Every payload names its customer, who is the event's subject (and its Kafka key)."""
    data = payload.model_dump(mode="json", exclude_none=True)
    return Envelope(type=payload.event_type, source=source, subject=payload.customer_id, data=data, backfill=backfill)


def to_message(envelope: Envelope, topic: str) -> Message:
    """The CloudEvents Kafka binary mode, written directly: the SDK's event object and its checks cost
    some 20 µs of CPU per event, the largest share of a batch's work. Key and headers are the SDK's
    bytes (tests compare them); the value is the same JSON, compact, by orjson (a tenth of the cost)."""
    headers = tuple((name, value.encode()) for name, value in envelope_headers(envelope))
    return Message(topic=topic, key=envelope.subject.encode(), value=event_value(envelope), headers=headers)


def envelope_headers(envelope: Envelope) -> list[tuple[str, str]]:
    """The record's headers as text, as the outbox stores them (no round trip through bytes)."""
    headers = [
        ("ce_id", envelope.id),
        ("ce_source", envelope.source),
        ("ce_specversion", "1.0"),
        ("ce_subject", envelope.subject),
        ("ce_time", _header_time(envelope.time)),
        ("ce_type", envelope.type),
        ("content-type", CONTENT_TYPE),
    ]
    if envelope.backfill:
        headers.insert(0, ("ce_backfill", "true"))
    return headers


def event_value(envelope: Envelope) -> bytes:
    return orjson.dumps(envelope.data, option=orjson.OPT_UTC_Z)


def _header_time(moment: datetime) -> str:
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def from_message(message: Message) -> Envelope:
    """The envelope of a record, or `Undecodable` saying why there is none (never another error).

    Read directly, as `to_message` writes: the SDK's event object cost more than the rest of
    applying an event. The checks are the SDK's: required attributes, an RFC 3339 time, JSON data."""
    if not message.value:
        raise Undecodable("no_value")
    headers = _envelope_headers(message)
    try:
        key = message.key.decode("utf-8")
    except UnicodeDecodeError:
        raise Undecodable("non_utf8_key") from None
    try:
        data = orjson.loads(message.value)
    except orjson.JSONDecodeError:
        raise Undecodable("bad_json") from None
    if not isinstance(data, dict):
        raise Undecodable("bad_json")
    subject = headers.get("ce_subject")
    return Envelope(
        id=headers["ce_id"].decode(),
        type=headers["ce_type"].decode(),
        source=headers["ce_source"].decode(),
        subject=subject.decode() if subject else key,
        time=_event_time(headers.get("ce_time")),
        data=data,
        backfill=headers.get("ce_backfill", b"").lower() == b"true",
    )


def _event_time(raw: bytes | None) -> datetime:
    if not raw:
        return utcnow()
    try:
        moment = datetime.fromisoformat(raw.decode())
    except ValueError:
        raise Undecodable("bad_attribute", "ce_time") from None
    if moment.tzinfo is None:  # RFC 3339 always names the offset
        raise Undecodable("bad_attribute", "ce_time")
    return moment


def _envelope_headers(message: Message) -> dict[str, bytes]:
    """The CloudEvents headers, checked; other headers are not ours to judge and are left out."""
    headers: dict[str, bytes] = {}
    values: list[bytes | None] = []
    for name, value in message.headers:
        if name not in ENVELOPE_HEADERS:  # as we write them; anything else is looked at closer
            name = name.lower()
            if not (name.startswith("ce_") or name == "content-type"):
                continue
        headers[name] = value
        values.append(value)
    # Joined by an ASCII byte, so that no two bad halves make one good character.
    if None in values or not _clean(b"\n".join(values)):
        _refuse_header(message)  # checked one by one, to say which
    for name in REQUIRED_HEADERS:
        if not headers.get(name):
            raise Undecodable("missing_attribute", name)
    if headers["ce_specversion"] != b"1.0":
        raise Undecodable("bad_attribute", "ce_specversion")
    if len(headers["ce_id"]) > MAX_ID_LENGTH:
        raise Undecodable("bad_attribute", "ce_id")
    return headers


def _clean(value: bytes) -> bool:
    """UTF-8 without NUL (PostgreSQL cannot store a NUL in the inbox, so the record is refused here)."""
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in value


def _refuse_header(message: Message) -> None:
    """Raises for the first envelope header that is null, not UTF-8 or holds a NUL."""
    for name, value in message.headers:
        lowered = name.lower()
        if not (lowered.startswith("ce_") or lowered == "content-type"):
            continue
        field = lowered if lowered in ENVELOPE_HEADERS else "ce_*"  # a stranger's name is not repeated
        if value is None:
            raise Undecodable("null_header", field)
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            raise Undecodable("non_utf8_header", field) from None
        if b"\x00" in value:
            raise Undecodable("bad_attribute", field)
