"""Every malformed request gets a 4xx problem+json that names the field, and writes nothing,
on SQLite and on PostgreSQL (the `profiles` fixture runs each case on both)."""

import json

import pytest
import sqlalchemy as sa

from services.common.delivery_tables import outbox

GOOD_PURCHASE = {"order_id": "o-ok", "customer_id": "CUSTOMER", "amount": "10.00", "occurred_at": "2026-03-01T10:00:00+08:00"}
LONG = "长" * 201
NUL, SURROGATE = "\x00", "\ud800"  # neither can be stored by PostgreSQL
INTERACTION = {"customer_id": "CUSTOMER", "channel": "call", "direction": "inbound", "occurred_at": "2026-03-01T10:00:00Z"}
REFUND = {"refund_id": "r", "amount": "1.00", "occurred_at": "2026-03-02T10:00:00Z"}

# (method, path, body, expected status, expected field)
CASES = [
    ("POST", "/v1/customers", {}, 422, "name"),
    ("POST", "/v1/customers", {"name": ""}, 422, "name"),
    ("POST", "/v1/customers", {"name": LONG}, 422, "name"),
    ("POST", "/v1/customers", {"name": 42}, 422, "name"),
    ("POST", "/v1/customers", {"name": "张三", "email": "not-an-email"}, 422, "email"),
    ("POST", "/v1/customers", {"name": "张三", "email": "a@b"}, 422, "email"),
    ("POST", "/v1/customers", {"name": "张三", "phone": "12345"}, 422, "phone"),
    ("POST", "/v1/customers", {"name": "张三", "phone": "电话"}, 422, "phone"),
    ("POST", "/v1/customers", {"name": "张三", "tags": "vip"}, 422, "tags"),
    ("POST", "/v1/customers", {"name": "张三", "tags": ["has space"]}, 422, "tags[0]"),
    ("POST", "/v1/customers", {"name": "张三", "attributes": {"blob": "x" * 17000}}, 422, "attributes"),
    ("POST", "/v1/customers", {"name": "张三", "consent": {"sms": "maybe"}}, 422, "consent.sms"),
    ("POST", "/v1/customers", {"name": "张三", "nickname": "小张"}, 422, "nickname"),
    ("POST", "/v1/customers", {"name": "张三", "external_id": "EXISTING"}, 409, "external_id"),
    ("POST", "/v1/customers", {"name": "张三", "email": "taken@example.com"}, 409, "email"),
    ("POST", "/v1/customers", "not json", 400, "body"),
    ("POST", "/v1/customers", ["a", "list"], 422, "body"),
    ("PATCH", "/v1/customers/CUSTOMER", {"name": None}, 422, "name"),
    ("PATCH", "/v1/customers/CUSTOMER", {"phone": "0000"}, 422, "phone"),
    ("PATCH", "/v1/customers/no-such-id", {"company": "x"}, 404, "customer_id"),
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "amount": "-1.00"}, 422, "amount"),
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "amount": "ten"}, 422, "amount"),
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "amount": 10.0}, 422, "amount"),
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "amount": "NaN"}, 422, "amount"),
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "amount": "1.005"}, 422, "amount"),
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "currency": "USD"}, 422, "currency"),
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "customer_id": "nobody"}, 422, "customer_id"),
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "occurred_at": "yesterday"}, 422, "occurred_at"),
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "occurred_at": "2026-03-01T10:00:00"}, 422, "occurred_at"),
    ("POST", "/v1/purchases", {k: v for k, v in GOOD_PURCHASE.items() if k != "order_id"}, 422, "order_id"),
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "order_id": "EXISTING", "amount": "999.00"}, 409, "order_id"),
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "customer_external_id": "x"}, 422, "body"),
    ("POST", "/v1/purchases:batch", {"items": []}, 422, "items"),
    ("POST", "/v1/purchases:batch", {"items": [GOOD_PURCHASE] * 5001}, 422, "items"),
    ("POST", "/v1/purchases:batch", {"items": "all"}, 422, "items"),
    ("POST", "/v1/customers:batch", {"items": [{"name": "无外部编号"}] * 5001}, 422, "items"),
    ("POST", "/v1/customers:merge", {"survivor_id": "CUSTOMER", "duplicate_ids": ["CUSTOMER"]}, 422, "duplicate_ids"),
    ("POST", "/v1/customers:merge", {"survivor_id": "CUSTOMER", "duplicate_ids": []}, 422, "duplicate_ids"),
    ("POST", "/v1/interactions", {"customer_id": "CUSTOMER", "channel": "fax", "direction": "inbound",
                                  "occurred_at": "2026-03-01T10:00:00Z"}, 422, "channel"),
    ("POST", "/v1/interactions", {"customer_id": "CUSTOMER", "channel": "call", "direction": "sideways",
                                  "occurred_at": "2026-03-01T10:00:00Z"}, 422, "direction"),
    ("POST", "/v1/purchases/PURCHASE/refunds", {"refund_id": "r", "amount": "1000.00", "occurred_at": "2026-03-02T10:00:00Z"}, 422, "amount"),
    ("POST", "/v1/purchases/PURCHASE/refunds", {"refund_id": "r", "amount": "0", "occurred_at": "2026-03-02T10:00:00Z"}, 422, "amount"),
    ("GET", "/v1/customers?limit=0", None, 422, "limit"),
    ("GET", "/v1/customers?cursor=garbage", None, 400, "cursor"),
    ("GET", "/v1/customers?created_from=2026-01-01T00:00:00", None, 422, "created_from"),
    # What an amount is: ASCII digits, at most one dot, an optional sign, at most 32 characters.
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "amount": "1e999999"}, 422, "amount"),
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "amount": "1e3"}, 422, "amount"),
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "amount": "1_000"}, 422, "amount"),
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "amount": "１０"}, 422, "amount"),
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "amount": "٣"}, 422, "amount"),
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "amount": ".5"}, 422, "amount"),
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "amount": "1.2.3"}, 422, "amount"),
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "amount": "Infinity"}, 422, "amount"),
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "amount": "9" * 33}, 422, "amount"),
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "amount": "9" * 30}, 422, "amount"),
    ("POST", "/v1/purchases/PURCHASE/refunds", {**REFUND, "amount": "1e999999"}, 422, "amount"),
    # Text PostgreSQL cannot store, wherever it is.
    ("POST", "/v1/customers", {"name": "张" + NUL}, 422, "name"),
    ("POST", "/v1/customers", {"name": "张" + SURROGATE}, 422, "name"),
    ("POST", "/v1/customers", {"name": "张三", "address": SURROGATE}, 422, "address"),
    ("POST", "/v1/customers", {"name": "张三", "company": "a" + NUL}, 422, "company"),
    ("POST", "/v1/customers", {"name": "张三", "external_id": NUL}, 422, "external_id"),
    ("POST", "/v1/customers", {"name": "张三", "email": "a" + NUL + "@example.com"}, 422, "email"),
    ("POST", "/v1/customers", {"name": "张三", "tags": ["ok", "v" + NUL]}, 422, "tags[1]"),
    ("POST", "/v1/customers", {"name": "张三", "attributes": {"k": {"deep": ["ok", NUL]}}}, 422, "attributes.k.deep[1]"),
    ("POST", "/v1/customers", {"name": "张三", "attributes": {"k": SURROGATE}}, 422, "attributes.k"),
    ("POST", "/v1/customers", {"name": "张三", "attributes": {"k" + NUL: 1}}, 422, "attributes"),
    ("POST", "/v1/customers", {"name": "张三", "consent": {"sms" + SURROGATE: True}}, 422, "consent"),
    ("PATCH", "/v1/customers/CUSTOMER", {"company": NUL}, 422, "company"),
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "order_id": "o" + NUL}, 422, "order_id"),
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "channel": SURROGATE}, 422, "channel"),
    # The channel travels in events: a code, so no shop assistant's name can ride along.
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "channel": "门店 张三"}, 422, "channel"),
    ("POST", "/v1/purchases", {**GOOD_PURCHASE, "amount": "10" + NUL}, 422, "amount"),
    ("POST", "/v1/purchases/PURCHASE/refunds", {**REFUND, "refund_id": "r" + NUL}, 422, "refund_id"),
    ("POST", "/v1/interactions", {**INTERACTION, "note": "回访" + NUL}, 422, "note"),
    ("POST", "/v1/interactions", {**INTERACTION, "outcome": SURROGATE}, 422, "outcome"),
    ("POST", "/v1/customers:merge", {"survivor_id": "a" + NUL, "duplicate_ids": ["CUSTOMER"]}, 422, "survivor_id"),
    ("GET", "/v1/customers?external_id=%00", None, 422, "external_id"),
    ("GET", "/v1/customers?q=%E5%BC%A0%00", None, 422, "q"),
    ("GET", "/v1/customers?tag=vip%00", None, 422, "tag"),
    ("GET", "/v1/customers/a%00b", None, 422, "customer_id"),
    ("PATCH", "/v1/customers/a%00b", {"company": "x"}, 422, "customer_id"),
    ("GET", "/v1/purchases/a%00b", None, 422, "purchase_id"),
    ("POST", "/v1/api-keys", {"name": "pos" + NUL, "role": "service"}, 422, "name"),
    ("DELETE", "/v1/api-keys/a%00b", None, 422, "key_id"),
]


@pytest.fixture
async def seeded(profiles):
    headers = profiles.auth()
    customer = (await profiles.client.post("/v1/customers", json={"name": "既有客户", "external_id": "EXISTING",
                                                                   "email": "taken@example.com"}, headers=headers)).json()
    order = {**GOOD_PURCHASE, "customer_id": customer["id"], "order_id": "EXISTING"}
    purchase = (await profiles.client.post("/v1/purchases", json=order, headers=headers)).json()
    await profiles.drain_outbox()
    return customer["id"], purchase["id"]


async def _row_counts(profiles) -> dict:
    tables = ["customers", "purchases", "refunds", "interactions", "customer_tags", "customer_name_tokens"]
    async with profiles.database.sessions() as session:
        counts = {table: await session.scalar(sa.text(f"SELECT count(*) FROM {table}")) for table in tables}
        counts["outbox"] = await session.scalar(sa.select(sa.func.count()).select_from(outbox))
    return counts


def _substitute(value, customer_id: str, purchase_id: str):
    if isinstance(value, str):
        return value.replace("CUSTOMER", customer_id).replace("PURCHASE", purchase_id)
    if isinstance(value, list):
        return [_substitute(item, customer_id, purchase_id) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, customer_id, purchase_id) for key, item in value.items()}
    return value


def test_the_table_has_at_least_thirty_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize(("method", "path", "body", "status", "field"), CASES, ids=[f"{c[0]} {c[1]} {c[4]}" for c in CASES])
async def test_malformed_requests_get_a_problem_that_names_the_field(profiles, seeded, method, path, body, status, field):
    customer_id, purchase_id = seeded
    before = await _row_counts(profiles)
    path, body = _substitute(path, customer_id, purchase_id), _substitute(body, customer_id, purchase_id)
    if body == "not json":
        response = await profiles.client.request(method, path, content=b"{not json", headers=profiles.auth() | {"content-type": "application/json"})
    else:
        # json.dumps escapes a lone surrogate as \\ud800, as a client's JSON encoder would.
        content = None if body is None else json.dumps(body).encode()
        response = await profiles.client.request(method, path, content=content, headers=profiles.auth() | {"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert {"type", "title", "status", "detail"} <= problem.keys()
    assert field in [error["field"] for error in problem.get("errors", [])], problem
    assert await _row_counts(profiles) == before


async def test_a_batch_item_with_unstorable_text_fails_alone(profiles, seeded):
    customer_id, _ = seeded
    before = await _row_counts(profiles)
    items = [{**GOOD_PURCHASE, "customer_id": customer_id, "order_id": "o" + NUL},
             {**GOOD_PURCHASE, "customer_id": customer_id, "amount": "1e999999"}]
    response = await profiles.client.post("/v1/purchases:batch", json={"items": items}, headers=profiles.auth())
    assert response.status_code == 200, response.text
    assert [result["error"]["errors"][0]["field"] for result in response.json()["results"]] == ["order_id", "amount"]
    upsert = await profiles.client.post("/v1/customers:batch", json={"items": [{"external_id": "x", "name": "n", "tags": [NUL]}]},
                                        headers=profiles.auth())
    assert upsert.json()["results"][0]["error"]["errors"][0]["field"] == "tags[0]"
    assert await _row_counts(profiles) == before


async def test_amounts_with_a_sign_or_padding_are_still_amounts(profiles, seeded):
    customer_id, _ = seeded
    for order_id, amount, stored in (("o-plus", "+3.5", "3.50"), ("o-pad", " 7 ", "7.00"), ("o-zeros", "007.10", "7.10")):
        body = {**GOOD_PURCHASE, "customer_id": customer_id, "order_id": order_id, "amount": amount}
        response = await profiles.client.post("/v1/purchases", json=body, headers=profiles.auth())
        assert (response.status_code, response.json()["amount"]) == (201, stored)


async def test_an_oversize_body_is_refused_before_it_is_read(profiles):
    huge = b'{"name": "' + b"x" * (17 * 1024 * 1024) + b'"}'
    response = await profiles.client.post("/v1/customers", content=huge, headers=profiles.auth() | {"content-type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
