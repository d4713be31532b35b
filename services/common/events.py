"""The CloudEvents envelope and its Kafka binary-mode encoding (events.md "Envelope")."""

from dataclasses import dataclass, field
from datetime import datetime

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent
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
    """A record as it travels on a bus: the same shape on Kafka and in process."""

    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode()
        return None


def envelope_for(payload: BaseModel, *, source: str, backfill: bool = False) -> Envelope:
    """Every payload names its customer, who is the event's subject (and its Kafka key)."""
    data = payload.model_dump(mode="json", exclude_none=True)
    return Envelope(type=payload.event_type, source=source, subject=payload.customer_id, data=data, backfill=backfill)


def to_message(envelope: Envelope, topic: str) -> Message:
    attributes = {
        "id": envelope.id,
        "source": envelope.source,
        "type": envelope.type,
        "subject": envelope.subject,
        "time": envelope.time,
        "datacontenttype": CONTENT_TYPE,
    }
    if envelope.backfill:
        attributes["backfill"] = "true"
    binary = ce_kafka.to_binary_event(CloudEvent(attributes=attributes, data=envelope.data), key_mapper=lambda _e: envelope.subject)
    key = binary.key.encode() if isinstance(binary.key, str) else binary.key
    return Message(topic=topic, key=key, value=binary.value, headers=tuple(sorted(binary.headers.items())))


def from_message(message: Message) -> Envelope:
    binary = ce_kafka.KafkaMessage(headers=dict(message.headers), key=message.key, value=message.value)
    event = ce_kafka.from_binary_event(binary)
    return Envelope(
        id=event.get_id(),
        type=event.get_type(),
        source=event.get_source(),
        subject=event.get_subject() or message.key.decode(),
        time=event.get_time(),
        data=event.get_data() or {},
        backfill=str(event.get_extension("backfill")).lower() == "true",
    )
