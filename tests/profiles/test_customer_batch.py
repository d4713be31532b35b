"""customers:batch inserts new customers together; it must decide and write exactly what the
item-by-item path does, on SQLite and on PostgreSQL."""

import os

import pytest
import sqlalchemy as sa

from services.common.transactions import write
from services.profiles.customers import upsert_each, validated_upsert
from services.profiles.models import Customer, CustomerTag, NameToken
from tests.harness import profiles_service, settings_for_tests

SEED = [
    {"external_id": "a", "name": "张三丰", "email": "a@example.com", "phone": "138 0013 8000", "tags": ["vip"]},
    {"external_id": "b", "name": "李四", "tags": ["new"]},
    {"external_id": "d", "name": "Dora Lee", "company": "Acme"},
]

# New, unchanged, changed and invalid items, where each item's fate depends on the items before it.
BATCH = [
    {"external_id": "n1", "name": "王五 Wang", "email": "N1@example.com", "address": "北京市朝阳区建国路88号"},
    {"external_id": "a", "name": "张三丰", "email": "a@example.com", "phone": "+8613800138000", "tags": ["vip"]},
    {"external_id": "b", "name": "李四", "tags": ["new", "gold"]},
    {"external_id": "no-name"},
    {"external_id": "n2", "name": "赵六", "email": "a@example.com"},
    {"external_id": "n3", "name": "钱七", "email": "n1@example.com"},
    {"external_id": "n4", "name": "孙八", "phone": "not a phone"},
    {"external_id": "n1", "name": "王五 Wang", "email": "N1@example.com", "company": "新公司"},
    {"external_id": "b", "name": "李四", "email": "n5@example.com"},
    {"external_id": "n5", "name": "周九", "email": "n5@example.com"},
    {"external_id": "n6", "name": "吴十", "phone": "13900139000", "tags": ["x", "x", "y"], "consent": {"sms": True}},
    {"external_id": "d", "name": "Dora Lee", "phone": "139 0013 9000"},
    {"external_id": "n7", "name": "Eve", "email": "eve@example.com", "attributes": {"备注": "老客户"}},
    {"external_id": "n8", "name": "Hal", "phone": "13700137000"},
    {"external_id": "n9", "name": "Ivy", "phone": "+86 137 0013 7000"},
]


@pytest.fixture
async def twin(tmp_path, backend, request):
    """A second profiles service with a database of its own, for the item-by-item path."""
    url = "" if backend == "sqlite" else request.getfixturevalue("postgres_server").create_database(f"t_{os.urandom(6).hex()}")
    folder = tmp_path / "twin"
    folder.mkdir()
    async with profiles_service(settings_for_tests(folder, database_url=url)) as harness:
        yield harness


async def _seed(harness) -> None:
    response = await harness.client.post("/v1/customers:batch", json={"items": SEED}, headers=harness.auth())
    assert [result["status"] for result in response.json()["results"]] == ["created"] * len(SEED)


async def _outcomes_by_items(harness) -> list[dict]:
    ctx = harness.app.state.context
    outcomes = await write(harness.database, lambda session: upsert_each(session, ctx, [validated_upsert(item) for item in BATCH]))
    return [{"status": outcome.status, "http_status": outcome.http_status, "id": outcome.record_id, "error": outcome.error}
            for outcome in outcomes]


async def _state(harness, outcomes: list[dict]) -> tuple:
    """Outcomes, rows and events with every generated id replaced by its customer's external_id."""
    ctx = harness.app.state.context
    async with harness.database.sessions() as session:
        customers = list(await session.scalars(sa.select(Customer)))
        tokens = (await session.execute(sa.select(NameToken.customer_id, sa.func.count()).group_by(NameToken.customer_id))).all()
        tags = (await session.execute(sa.select(CustomerTag.customer_id, CustomerTag.tag))).all()
    external = {customer.id: customer.external_id for customer in customers}
    for outcome in outcomes:
        outcome["id"] = external.get(outcome["id"])
        if outcome["error"] and "existing_id" in outcome["error"]:
            outcome["error"] = outcome["error"] | {"existing_id": external[outcome["error"]["existing_id"]]}
    rows = sorted(
        (customer.external_id, customer.status, customer.version, customer.company, customer.tags, customer.attributes,
         customer.consent, *(ctx.cipher.decrypt(getattr(customer, f"{name}_enc")) for name in ("name", "email", "phone", "address")),
         customer.email_hash is not None, customer.phone_hash is not None, customer.name_hash is not None)
        for customer in customers
    )
    await harness.drain_outbox()
    events = [(event.type, {key: _named(external, value) for key, value in event.data.items() if not key.endswith("_at")})
              for event in harness.recorder.events()]
    return (outcomes, rows, sorted((external[customer_id], count) for customer_id, count in tokens),
            sorted((external[customer_id], tag) for customer_id, tag in tags), events)


def _named(external: dict, value):
    return external.get(value, value) if isinstance(value, str) else value


async def test_a_mixed_batch_decides_and_writes_as_item_by_item(profiles, twin):
    await _seed(profiles)
    await _seed(twin)
    response = await profiles.client.post("/v1/customers:batch", json={"items": BATCH}, headers=profiles.auth())
    assert response.status_code == 200, response.text
    together = [{"status": result["status"], "http_status": result["http_status"], "id": result.get("id"),
                 "error": result.get("error")} for result in response.json()["results"]]
    one_by_one = await _outcomes_by_items(twin)
    assert [(outcome["status"], outcome["http_status"]) for outcome in together] == [
        ("created", 201), ("unchanged", 200), ("updated", 200), ("error", 422), ("error", 409), ("error", 409),
        ("error", 422), ("updated", 200), ("updated", 200), ("error", 409), ("created", 201), ("error", 409), ("created", 201),
        ("created", 201), ("error", 409),
    ]
    assert await _state(profiles, together) == await _state(twin, one_by_one)


async def test_a_batch_sent_again_changes_nothing(profiles):
    items = [{"external_id": f"c{n}", "name": f"顾客{n}", "email": f"c{n}@example.com"} for n in range(60)]
    first = (await profiles.client.post("/v1/customers:batch", json={"items": items}, headers=profiles.auth())).json()
    again = (await profiles.client.post("/v1/customers:batch", json={"items": items}, headers=profiles.auth())).json()
    assert [result["status"] for result in first["results"]] == ["created"] * 60
    assert [result["status"] for result in again["results"]] == ["unchanged"] * 60
    assert [result["id"] for result in again["results"]] == [result["id"] for result in first["results"]]
    await profiles.drain_outbox()
    assert len(profiles.recorder.events("pulse.customer.created.v1")) == 60
