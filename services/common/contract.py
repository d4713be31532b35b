"""The machine-readable event contract, generated from the catalog: AsyncAPI 3.0 and JSON Schemas."""

import json
from pathlib import Path

from services.common.catalog import CATALOG, topic_of
from services.common.settings import Settings

ENVELOPE_HEADERS = {
    "type": "object",
    "description": "CloudEvents 1.0, Kafka binary mode: attributes travel as headers.",
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject", "content-type"],
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "description": "Unique per event (UUIDv7); de-duplicate on it."},
        "ce_source": {"type": "string", "examples": ["/pulse/profiles"]},
        "ce_type": {"type": "string", "examples": ["pulse.purchase.recorded.v1"]},
        "ce_time": {"type": "string", "format": "date-time", "description": "When the event was recorded."},
        "ce_subject": {"type": "string", "description": "The customer id; also the message key."},
        "ce_backfill": {"type": "string", "enum": ["true"], "description": "Present on events of an import of history."},
        "content-type": {"type": "string", "const": "application/json"},
    },
}


def payload_schemas() -> dict[str, dict]:
    schemas = {}
    for event_type, model in sorted(CATALOG.items()):
        schema = model.model_json_schema(mode="serialization")
        schema["$id"] = f"https://customer-pulse.dev/events/{event_type}.json"
        schema["title"] = event_type
        schemas[event_type] = schema
    return schemas


def asyncapi_document(settings: Settings) -> dict:
    channels, operations, messages = {}, {}, {}
    for event_type, model in sorted(CATALOG.items()):
        topic = topic_of(event_type, settings.topics)
        channel_id = topic.replace(".", "_")
        message_id = event_type.replace(".", "_")
        messages[message_id] = {
            "name": event_type,
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/CloudEventHeaders"},
            "payload": {"$ref": f"schemas/{event_type}.json"},
            "bindings": {"kafka": {"key": {"type": "string", "description": "customer id"}}},
            "summary": (model.__doc__ or event_type).strip().splitlines()[0],
        }
        channel = channels.setdefault(channel_id, {"address": topic, "messages": {}})
        channel["messages"][message_id] = {"$ref": f"#/components/messages/{message_id}"}
    for channel_id, channel in channels.items():
        operations[f"receive_{channel_id}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{mid}"} for mid in sorted(channel["messages"])],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Customer Pulse events",
            "version": "1.0.0",
            "description": "Public event contract: at-least-once, per-customer order, keyed by customer id. "
                           "Payloads carry ids, fixed codes and numbers, never personal data or free text. "
                           "v1 changed once, before it had any consumer: customer.created/updated carry "
                           "tag_count instead of the tags, and interaction.logged's outcome is a fixed code.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": {"CloudEventHeaders": ENVELOPE_HEADERS}},
    }


def rendered_contract(settings: Settings) -> dict[str, str]:
    files = {"asyncapi.json": _render(asyncapi_document(settings))}
    for event_type, schema in payload_schemas().items():
        files[f"schemas/{event_type}.json"] = _render(schema)
    return files


def _render(document: dict) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_contract(folder: Path, settings: Settings) -> list[Path]:
    written = []
    for relative, text in rendered_contract(settings).items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def contract_differences(folder: Path, settings: Settings) -> list[str]:
    expected = rendered_contract(settings)
    differences = [name for name, text in expected.items() if not (folder / name).exists() or (folder / name).read_text() != text]
    published = {str(path.relative_to(folder)) for path in folder.rglob("*.json")} if folder.exists() else set()
    differences += sorted(f"{name} (not in the code)" for name in published - set(expected))
    return differences
