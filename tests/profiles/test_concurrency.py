"""Requests sent at once get what the same requests sent one by one would get: never a 500, no lost write.

Each test sends PARALLEL requests through one event loop; the app awaits the database, so on
PostgreSQL they run as concurrent transactions (SQLite serialises writers and must agree)."""

import asyncio
from collections import Counter

import sqlalchemy as sa

PARALLEL = 50
OCCURRED = "2026-03-01T10:00:00+08:00"
PATIENCE = 120  # seconds: requests stuck on each other fail the test instead of hanging the suite


async def _gather(requests):
    return await asyncio.wait_for(asyncio.gather(*requests), PATIENCE)


async def _at_once(profiles, method: str, path: str, bodies: list, headers: list[dict] | None = None):
    headers = headers or [{}] * len(bodies)
    return await _gather([
        profiles.client.request(method, path, json=body, headers=profiles.auth() | extra) for body, extra in zip(bodies, headers)
    ])


def _statuses(responses) -> Counter:
    assert all(response.status_code < 500 for response in responses), [r.text for r in responses if r.status_code >= 500][:1]
    return Counter(response.status_code for response in responses)


async def _count(profiles, sql: str, **params) -> int:
    async with profiles.database.sessions() as session:
        return await session.scalar(sa.text(sql), params)


async def _customer(profiles, **fields) -> dict:
    response = await profiles.client.post("/v1/customers", json={"name": "并发客户"} | fields, headers=profiles.auth())
    assert response.status_code == 201, response.text
    return response.json()


async def _purchase(profiles, customer_id: str, amount: str = "100.00") -> dict:
    body = {"order_id": "o-refunded", "customer_id": customer_id, "amount": amount, "occurred_at": OCCURRED}
    response = await profiles.client.post("/v1/purchases", json=body, headers=profiles.auth())
    assert response.status_code == 201, response.text
    return response.json()


async def test_identical_creates_by_external_id_make_one_customer(profiles):
    responses = await _at_once(profiles, "POST", "/v1/customers", [{"external_id": "crm-1", "name": "张三"}] * PARALLEL)
    assert _statuses(responses) == {201: 1, 200: PARALLEL - 1}
    assert len({response.json()["id"] for response in responses}) == 1
    assert await _count(profiles, "SELECT count(*) FROM customers") == 1


async def test_different_creates_on_one_external_id_conflict(profiles):
    bodies = [{"external_id": "crm-2", "name": f"张三{index}"} for index in range(PARALLEL)]
    assert _statuses(await _at_once(profiles, "POST", "/v1/customers", bodies)) == {201: 1, 409: PARALLEL - 1}


async def test_creates_with_one_email_or_phone_make_one_customer(profiles):
    for contact in ({"email": "same@example.cn"}, {"phone": "+8613800138000"}):
        bodies = [{"name": f"李四{index}"} | contact for index in range(PARALLEL)]
        assert _statuses(await _at_once(profiles, "POST", "/v1/customers", bodies)) == {201: 1, 409: PARALLEL - 1}
    assert await _count(profiles, "SELECT count(*) FROM customers") == 2


async def test_batch_upserts_of_one_external_id_make_one_customer(profiles):
    body = {"items": [{"external_id": "crm-batch", "name": "王五"}]}
    responses = await _at_once(profiles, "POST", "/v1/customers:batch", [body] * PARALLEL)
    assert _statuses(responses) == {200: PARALLEL}
    outcomes = Counter(response.json()["results"][0]["status"] for response in responses)
    assert outcomes == {"created": 1, "unchanged": PARALLEL - 1}


async def test_identical_purchases_record_one_order(profiles):
    customer = await _customer(profiles)
    body = {"order_id": "o-1", "customer_id": customer["id"], "amount": "12.50", "occurred_at": OCCURRED}
    responses = await _at_once(profiles, "POST", "/v1/purchases", [body] * PARALLEL)
    assert _statuses(responses) == {201: 1, 200: PARALLEL - 1}
    assert len({response.json()["id"] for response in responses}) == 1
    assert await _count(profiles, "SELECT count(*) FROM purchases") == 1


async def test_purchase_batches_racing_on_order_ids_record_each_order_once(profiles):
    customer = await _customer(profiles)
    items = [{"order_id": f"o-{n}", "customer_id": customer["id"], "amount": "1.00", "occurred_at": OCCURRED} for n in range(3)]
    responses = await _at_once(profiles, "POST", "/v1/purchases:batch", [{"items": items}] * PARALLEL)
    assert _statuses(responses) == {200: PARALLEL}
    outcomes = Counter(result["status"] for response in responses for result in response.json()["results"])
    assert outcomes == {"created": 3, "unchanged": 3 * (PARALLEL - 1)}
    assert await _count(profiles, "SELECT count(*) FROM purchases") == 3


async def test_refunds_at_once_never_refund_more_than_the_purchase(profiles):
    purchase = await _purchase(profiles, (await _customer(profiles))["id"])
    bodies = [{"refund_id": f"r-{index}", "amount": "10.00", "occurred_at": OCCURRED} for index in range(PARALLEL)]
    responses = await _at_once(profiles, "POST", f"/v1/purchases/{purchase['id']}/refunds", bodies)
    assert _statuses(responses) == {201: 10, 422: PARALLEL - 10}
    assert (await profiles.client.get(f"/v1/purchases/{purchase['id']}", headers=profiles.auth())).json()["refunded_amount"] == "100.00"
    assert await _count(profiles, "SELECT sum(amount_minor) FROM refunds") == 10000


async def test_identical_refunds_refund_once(profiles):
    purchase = await _purchase(profiles, (await _customer(profiles))["id"])
    body = {"refund_id": "r-same", "amount": "10.00", "occurred_at": OCCURRED}
    responses = await _at_once(profiles, "POST", f"/v1/purchases/{purchase['id']}/refunds", [body] * PARALLEL)
    assert _statuses(responses) == {201: 1, 200: PARALLEL - 1}
    assert (await profiles.client.get(f"/v1/purchases/{purchase['id']}", headers=profiles.auth())).json()["refunded_amount"] == "10.00"


async def test_patches_with_the_same_if_match_let_one_through(profiles):
    created = await profiles.client.post("/v1/customers", json={"name": "赵六"}, headers=profiles.auth())
    etag = created.headers["etag"]
    bodies = [{"company": f"公司{index}"} for index in range(PARALLEL)]
    responses = await _at_once(profiles, "PATCH", f"/v1/customers/{created.json()['id']}", bodies, [{"If-Match": etag}] * PARALLEL)
    assert _statuses(responses) == {200: 1, 412: PARALLEL - 1}
    assert all(r.headers["content-type"] == "application/problem+json" for r in responses if r.status_code == 412)
    current = await profiles.client.get(f"/v1/customers/{created.json()['id']}", headers=profiles.auth())
    [winner] = [response for response in responses if response.status_code == 200]
    assert current.json()["company"] == winner.json()["company"]
    assert current.headers["etag"] == winner.headers["etag"] != etag


async def test_patches_without_if_match_lose_no_update(profiles):
    customer = await _customer(profiles)
    bodies = [{"company": f"公司{index}"} for index in range(PARALLEL)]
    responses = await _at_once(profiles, "PATCH", f"/v1/customers/{customer['id']}", bodies)
    assert _statuses(responses) == {200: PARALLEL}
    current = (await profiles.client.get(f"/v1/customers/{customer['id']}", headers=profiles.auth())).json()
    assert current["version"] == customer["version"] + PARALLEL
    assert sorted(response.json()["version"] for response in responses) == list(range(2, PARALLEL + 2))


async def test_purchases_committed_during_a_merge_end_on_the_survivor(profiles):
    survivor = await _customer(profiles, external_id="survivor")
    for round_ in range(3):
        duplicate = await _customer(profiles, external_id=f"duplicate-{round_}")
        bodies = [{"order_id": f"m-{round_}-{n}", "customer_id": duplicate["id"], "amount": "1.00", "occurred_at": OCCURRED}
                  for n in range(PARALLEL)]
        merge = {"survivor_id": survivor["id"], "duplicate_ids": [duplicate["id"]]}
        half = PARALLEL // 2
        requests = [
            *[profiles.client.post("/v1/purchases", json=body, headers=profiles.auth()) for body in bodies[:half]],
            profiles.client.post("/v1/customers:merge", json=merge, headers=profiles.auth()),
            *[profiles.client.post("/v1/purchases", json=body, headers=profiles.auth()) for body in bodies[half:]],
        ]
        responses = await _gather(requests)
        assert _statuses(responses) == {201: PARALLEL, 200: 1}
        stranded = await _count(profiles, "SELECT count(*) FROM purchases WHERE customer_id = :id", id=duplicate["id"])
        assert stranded == 0
    assert await _count(profiles, "SELECT count(*) FROM purchases WHERE customer_id = :id", id=survivor["id"]) == 3 * PARALLEL


async def test_crossing_merges_and_batches_end_without_a_deadlock_or_a_stray_purchase(profiles):
    first, second = await _customer(profiles, external_id="first"), await _customer(profiles, external_id="second")
    merges = [{"survivor_id": a["id"], "duplicate_ids": [b["id"]]} for a, b in [(first, second), (second, first)] * (PARALLEL // 4)]
    # Each batch names one customer by id and the other by external_id, in both orders.
    batches = [{"items": [
        {"order_id": f"x-{n}-1", "customer_id": (first, second)[n % 2]["id"], "amount": "1.00", "occurred_at": OCCURRED},
        {"order_id": f"x-{n}-2", "customer_external_id": ("second", "first")[n % 2], "amount": "1.00", "occurred_at": OCCURRED},
    ]} for n in range(len(merges))]
    requests = [profiles.client.post(path, json=body, headers=profiles.auth())
                for pair in zip(merges, batches) for path, body in zip(("/v1/customers:merge", "/v1/purchases:batch"), pair)]
    responses = await _gather(requests)
    merge_statuses = _statuses(responses[0::2])
    assert merge_statuses == {200: 1, 409: len(merges) - 1}
    assert all(result["status"] == "created" for response in responses[1::2] for result in response.json()["results"])
    [winner] = [response.json() for response in responses[0::2] if response.status_code == 200]
    on_survivor = await _count(profiles, "SELECT count(*) FROM purchases WHERE customer_id = :id", id=winner["survivor"]["id"])
    assert on_survivor == 2 * len(batches) == await _count(profiles, "SELECT count(*) FROM purchases")
