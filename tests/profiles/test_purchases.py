"""Purchases and refunds through the API."""

import pytest


@pytest.fixture
async def customer(profiles):
    response = await profiles.client.post("/v1/customers", json={"external_id": "c-1", "name": "王小明"}, headers=profiles.auth())
    return response.json()


def purchase(customer, **changes):
    return {"order_id": "order-1", "customer_id": customer["id"], "amount": "128.50",
            "occurred_at": "2026-03-01T10:00:00+08:00", **changes}


async def test_a_purchase_is_recorded_once_per_order(profiles, customer):
    first = await profiles.client.post("/v1/purchases", json=purchase(customer), headers=profiles.auth())
    again = await profiles.client.post("/v1/purchases", json=purchase(customer), headers=profiles.auth())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["amount"] == "128.50" and first.json()["currency"] == "CNY"
    await profiles.drain_outbox()
    [event] = profiles.recorder.events("pulse.purchase.recorded.v1")
    assert event.data["amount"] == "128.50" and event.subject == customer["id"]


async def test_a_new_purchase_is_answered_as_it_is_stored(profiles, customer):
    created = await profiles.client.post("/v1/purchases", json=purchase(customer, channel="web"), headers=profiles.auth())
    stored = await profiles.client.get(f"/v1/purchases/{created.json()['id']}", headers=profiles.auth())
    again = await profiles.client.post("/v1/purchases", json=purchase(customer, channel="web"), headers=profiles.auth())
    assert created.json() == stored.json() == again.json()
    assert created.json()["occurred_at"] in ("2026-03-01T02:00:00Z", "2026-03-01T02:00:00+00:00")


async def test_the_same_order_with_another_amount_is_a_conflict(profiles, customer):
    await profiles.client.post("/v1/purchases", json=purchase(customer), headers=profiles.auth())
    conflict = await profiles.client.post("/v1/purchases", json=purchase(customer, amount="1.00"), headers=profiles.auth())
    assert conflict.status_code == 409
    assert conflict.json()["errors"][0]["field"] == "order_id"


async def test_a_purchase_can_name_its_customer_by_external_id(profiles, customer):
    body = purchase(customer)
    del body["customer_id"]
    response = await profiles.client.post("/v1/purchases", json=body | {"customer_external_id": "c-1"}, headers=profiles.auth())
    assert response.status_code == 201 and response.json()["customer_id"] == customer["id"]


async def test_a_batch_answers_each_item_in_order_and_keeps_the_good_ones(profiles, customer):
    items = [
        purchase(customer, order_id="b-1"),
        purchase(customer, order_id="b-2", amount="-5"),
        {"order_id": "b-3", "customer_external_id": "nobody", "amount": "1", "occurred_at": "2026-03-01T10:00:00Z"},
        purchase(customer, order_id="b-1"),
        purchase(customer, order_id="b-1", amount="2.00"),
        purchase(customer, order_id="b-4", currency="USD"),
        purchase(customer, order_id="b-5", amount="0"),
    ]
    response = await profiles.client.post("/v1/purchases:batch", json={"items": items, "backfill": True}, headers=profiles.auth())
    results = response.json()["results"]
    assert [(r["status"], r["http_status"]) for r in results] == [
        ("created", 201), ("error", 422), ("error", 422), ("unchanged", 200), ("error", 409), ("error", 422), ("created", 201),
    ]
    assert [r["error"]["errors"][0]["field"] for r in results if r["error"]] == ["amount", "customer_external_id", "order_id", "currency"]
    await profiles.drain_outbox()
    events = profiles.recorder.events("pulse.purchase.recorded.v1")
    assert [event.data["order_id"] for event in events] == ["b-1", "b-5"]
    assert all(event.backfill for event in events)


async def test_refunds_may_be_partial_and_never_exceed_the_purchase(profiles, customer):
    recorded = (await profiles.client.post("/v1/purchases", json=purchase(customer), headers=profiles.auth())).json()
    url = f"/v1/purchases/{recorded['id']}/refunds"
    partial = await profiles.client.post(url, json={"refund_id": "r-1", "amount": "28.50", "occurred_at": "2026-03-02T10:00:00Z"},
                                         headers=profiles.auth())
    assert partial.status_code == 201
    too_much = await profiles.client.post(url, json={"refund_id": "r-2", "amount": "100.01", "occurred_at": "2026-03-02T10:00:00Z"},
                                          headers=profiles.auth())
    assert too_much.status_code == 422 and too_much.json()["errors"][0]["field"] == "amount"
    rest = await profiles.client.post(url, json={"refund_id": "r-3", "occurred_at": "2026-03-03T10:00:00Z"}, headers=profiles.auth())
    assert rest.status_code == 201 and rest.json()["amount"] == "100.00"
    repeated = await profiles.client.post(url, json={"refund_id": "r-3", "occurred_at": "2026-03-03T10:00:00Z"}, headers=profiles.auth())
    assert repeated.status_code == 200
    state = (await profiles.client.get(f"/v1/purchases/{recorded['id']}", headers=profiles.auth())).json()
    assert state["refunded_amount"] == "128.50"
    await profiles.drain_outbox()
    refunds = profiles.recorder.events("pulse.purchase.refunded.v1")
    assert [(e.data["amount"], e.data["fully_refunded"]) for e in refunds] == [("28.50", False), ("100.00", True)]


async def test_interactions_are_listed_per_customer_with_their_notes(profiles, customer):
    for channel in ("call", "visit", "follow_up"):
        body = {"customer_id": customer["id"], "channel": channel, "direction": "outbound", "outcome": "reached",
                "note": f"{channel}：客户满意", "occurred_at": "2026-04-01T09:00:00+08:00"}
        assert (await profiles.client.post("/v1/interactions", json=body, headers=profiles.auth())).status_code == 201
    listed = (await profiles.client.get(f"/v1/customers/{customer['id']}/interactions", headers=profiles.auth())).json()
    assert [item["note"] for item in listed["items"]] == ["call：客户满意", "visit：客户满意", "follow_up：客户满意"]
    await profiles.drain_outbox()
    assert len(profiles.recorder.events("pulse.interaction.logged.v1")) == 3


async def test_an_interaction_outcome_is_a_fixed_code_and_free_text_is_refused(profiles, customer):
    body = {"customer_id": customer["id"], "channel": "call", "direction": "outbound",
            "occurred_at": "2026-04-01T09:00:00+08:00"}
    refused = await profiles.client.post("/v1/interactions", json={**body, "outcome": "王先生说下周回电"}, headers=profiles.auth())
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "outcome"
    logged = await profiles.client.post("/v1/interactions", json={**body, "outcome": "callback_requested"}, headers=profiles.auth())
    assert logged.status_code == 201
    await profiles.drain_outbox()
    assert [event.data["outcome"] for event in profiles.recorder.events("pulse.interaction.logged.v1")] == ["callback_requested"]
