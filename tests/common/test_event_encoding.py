"""The envelope's Kafka encoding is written by hand for speed; it must stay the CloudEvents SDK's."""

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent

from services.common.events import Envelope, Message, Undecodable, from_message, to_message


def sdk_message(envelope: Envelope) -> tuple[bytes, bytes, tuple]:
    attributes = {"id": envelope.id, "source": envelope.source, "type": envelope.type, "subject": envelope.subject,
                  "time": envelope.time, "datacontenttype": "application/json"}
    if envelope.backfill:
        attributes["backfill"] = "true"
    binary = ce_kafka.to_binary_event(CloudEvent(attributes=attributes, data=envelope.data), key_mapper=lambda _e: envelope.subject)
    return binary.key.encode(), binary.value, tuple(sorted(binary.headers.items()))


@pytest.mark.parametrize("envelope", [
    Envelope(type="pulse.purchase.recorded.v1", source="/pulse/profiles", subject="0199-c1",
             data={"order_id": "o-1", "amount": "59.90", "note": "客户 ü"}),
    Envelope(type="pulse.purchase.recorded.v1", source="/pulse/profiles", subject="c2", data={"n": 1, "list": [1, None]},
             time=datetime(2026, 9, 1, 12, tzinfo=UTC), backfill=True),
    Envelope(type="pulse.customer.created.v1", source="/pulse/profiles", subject="c3", data={},
             time=datetime(2026, 9, 1, 12, 0, 0, 5, tzinfo=timezone(timedelta(hours=8)))),
    Envelope(type="t", source="/s", subject="c4", data={"at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)}),
])
def test_the_encoding_is_the_sdks(envelope):
    message = to_message(envelope, "pulse.purchases")
    key, value, headers = sdk_message(envelope)
    assert (message.key, message.headers) == (key, headers)
    assert json.loads(message.value) == json.loads(value)
    decoded = from_message(message)
    assert (decoded.id, decoded.subject, decoded.backfill) == (envelope.id, envelope.subject, envelope.backfill)


def test_data_that_json_cannot_hold_is_refused():
    with pytest.raises(TypeError):
        to_message(Envelope(type="t", source="/s", subject="c", data={"x": object()}), "topic")


@pytest.mark.parametrize("envelope", [
    Envelope(type="pulse.purchase.recorded.v1", source="/pulse/profiles", subject="0199-c1", data={"amount": "59.90", "名": "客户"}),
    Envelope(type="t", source="/s", subject="c2", data={"n": [1, None]}, backfill=True,
             time=datetime(2026, 9, 1, 12, 0, 0, 5, tzinfo=timezone(timedelta(hours=8)))),
])
def test_a_record_the_sdk_wrote_reads_as_the_sdk_reads_it(envelope):
    key, value, headers = sdk_message(envelope)
    sdk = ce_kafka.from_binary_event(ce_kafka.KafkaMessage(headers=dict(headers), key=key, value=value))
    ours = from_message(Message(topic="pulse.purchases", key=key, value=value, headers=headers))
    assert (ours.id, ours.type, ours.source, ours.subject, ours.time, ours.data) == (
        sdk.get_id(), sdk.get_type(), sdk.get_source(), sdk.get_subject(), sdk.get_time(), sdk.get_data())
    assert ours.backfill == (sdk.get_extension("backfill") == "true")


GOOD_HEADERS = (("ce_id", b"e-1"), ("ce_source", b"/s"), ("ce_specversion", b"1.0"), ("ce_type", b"t"))


@pytest.mark.parametrize(("headers", "value", "reason"), [
    (GOOD_HEADERS + (("ce_time", b"yesterday"),), b"{}", "bad_attribute: ce_time"),
    (GOOD_HEADERS + (("ce_time", b"2026-09-01T12:00:00"),), b"{}", "bad_attribute: ce_time"),
    (GOOD_HEADERS, b"[1, 2]", "bad_json"),
    (GOOD_HEADERS, b"{not json", "bad_json"),
    (GOOD_HEADERS[1:], b"{}", "missing_attribute: ce_id"),
    # Two headers each holding half of one character: neither is UTF-8, however they are checked.
    (GOOD_HEADERS + (("ce_subject", "€".encode()[:2]), ("ce_time", "€".encode()[2:])), b"{}", "non_utf8_header: ce_subject"),
    (GOOD_HEADERS + (("ce_subject", b"c\x00"),), b"{}", "bad_attribute: ce_subject"),
    (GOOD_HEADERS + (("Ce_Extra", None),), b"{}", "null_header: ce_*"),
])
def test_a_record_that_is_not_a_cloudevent_says_why(headers, value, reason):
    with pytest.raises(Undecodable) as refused:
        from_message(Message(topic="t", key=b"c", value=value, headers=headers))
    assert str(refused.value) == reason


def test_a_record_without_a_subject_is_about_its_key():
    assert from_message(Message(topic="t", key=b"c-9", value=b"{}", headers=GOOD_HEADERS)).subject == "c-9"
