"""Records a consumer cannot decode, one of each kind, with the `error.code` and `error.reason`
each must be dead-lettered with."""

import json

from services.common.catalog import PurchaseRecorded
from services.common.events import Message, envelope_for, to_message
from services.common.timeutil import utcnow


def purchase_message(topic: str, order_id: str, customer_id: str = "c-1") -> Message:
    payload = PurchaseRecorded(customer_id=customer_id, purchase_id=f"p-{order_id}", order_id=order_id, amount="1.00",
                               currency="CNY", occurred_at=utcnow())
    return to_message(envelope_for(payload, source="/test"), topic)


def _without(message: Message, name: str) -> tuple:
    return tuple((key, value) for key, value in message.headers if key != name)


def _with(message: Message, name: str, value) -> tuple:
    return _without(message, name) + ((name, value),)


def poison_records(topic: str, customer_id: str = "c-1") -> dict[str, tuple[Message, str, str | None]]:
    """kind → (record, error.code, error.reason). Each has an event id of its own."""
    key = customer_id.encode()

    def sound() -> Message:
        return purchase_message(topic, "template", customer_id)

    unknown, invalid = sound(), sound()
    data = json.loads(invalid.value)
    del data["order_id"]
    return {
        "no value": (Message(topic, key, None, sound().headers), "undecodable", "no_value"),
        "null header": (Message(topic, key, sound().value, _with(sound(), "ce_type", None)), "undecodable", "null_header"),
        "non-UTF-8 header": (Message(topic, key, sound().value, _with(sound(), "ce_source", b"\xff\xfe")), "undecodable", "non_utf8_header"),
        "bad JSON": (Message(topic, key, b"{not json", sound().headers), "undecodable", "bad_json"),
        "missing ce_id": (Message(topic, key, sound().value, _without(sound(), "ce_id")), "undecodable", "missing_attribute"),
        "unknown type": (Message(topic, key, unknown.value, _with(unknown, "ce_type", b"pulse.nothing.v9")), "unknown_type", None),
        "schema invalid": (Message(topic, key, json.dumps(data).encode(), invalid.headers), "schema_invalid", "missing"),
    }
