"""Customers through the API, on SQLite and on PostgreSQL."""

import sqlalchemy as sa
from cryptography.fernet import Fernet

from services.common.privacy import FieldCipher
from services.profiles.models import Customer
from services.profiles.reencrypt import reencrypt_personal_data

ZHANG = {
    "external_id": "crm-0001", "name": "张三丰", "email": "Zhang.SanFeng@Example.com", "phone": "138 0013 8000",
    "address": "北京市朝阳区建国路88号 SOHO现代城 3号楼 1201", "company": "武当山文化传媒有限公司",
    "tags": ["vip", "北京"], "attributes": {"备注": "老客户", "level": 3}, "consent": {"sms": True, "email": False},
}


async def create(profiles, body=None, **changes):
    response = await profiles.client.post("/v1/customers", json={**(body or ZHANG), **changes}, headers=profiles.auth())
    return response


async def test_chinese_names_and_addresses_round_trip_exactly(profiles):
    created = await create(profiles)
    assert created.status_code == 201, created.text
    fetched = (await profiles.client.get(f"/v1/customers/{created.json()['id']}", headers=profiles.auth())).json()
    for field in ("name", "address", "company", "tags", "attributes", "consent", "external_id"):
        assert fetched[field] == ZHANG[field]


async def test_contact_details_are_normalised(profiles):
    body = (await create(profiles)).json()
    assert body["phone"] == "+8613800138000"
    assert body["email"] == "zhang.sanfeng@example.com"


async def test_personal_data_is_encrypted_at_rest(profiles):
    customer_id = (await create(profiles)).json()["id"]
    async with profiles.database.sessions() as session:
        row = (await session.execute(sa.select(Customer.__table__).where(Customer.id == customer_id))).one()
    stored = " ".join(str(value) for value in row)
    for secret in ("张三丰", "zhang.sanfeng", "8613800138000", "建国路"):
        assert secret not in stored


async def test_the_same_create_again_returns_the_first_customer(profiles):
    first = await create(profiles)
    again = await create(profiles)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert len(profiles.recorder.events("pulse.customer.created.v1")) <= 1
    await profiles.drain_outbox()
    assert len(profiles.recorder.events("pulse.customer.created.v1")) == 1


async def test_a_different_customer_with_a_taken_external_id_is_a_conflict(profiles):
    first = await create(profiles)
    conflict = await create(profiles, name="李四")
    assert conflict.status_code == 409
    assert conflict.json()["existing_id"] == first.json()["id"]
    assert conflict.json()["errors"][0]["field"] == "external_id"


async def test_a_taken_email_or_phone_is_a_conflict_naming_the_existing_customer(profiles):
    first = (await create(profiles)).json()
    by_email = await create(profiles, external_id="crm-2", phone=None, email="ZHANG.SANFENG@example.com")
    by_phone = await create(profiles, external_id="crm-3", email=None, phone="+86 138-0013-8000")
    assert (by_email.status_code, by_email.json()["errors"][0]["field"], by_email.json()["existing_id"]) == (409, "email", first["id"])
    assert (by_phone.status_code, by_phone.json()["errors"][0]["field"], by_phone.json()["existing_id"]) == (409, "phone", first["id"])


async def test_customers_are_found_by_characters_of_their_name(profiles):
    zhang = (await create(profiles)).json()
    await create(profiles, {"external_id": "crm-9", "name": "李小龙"})
    found = (await profiles.client.get("/v1/customers", params={"q": "三丰"}, headers=profiles.auth())).json()
    assert [item["id"] for item in found["items"]] == [zhang["id"]]
    none = (await profiles.client.get("/v1/customers", params={"q": "王"}, headers=profiles.auth())).json()
    assert none["items"] == []


async def test_listing_filters_by_tag_and_external_id_and_pages_with_a_cursor(profiles):
    ids = []
    for number in range(7):
        tags = ["even"] if number % 2 == 0 else ["odd"]
        ids.append((await create(profiles, {"external_id": f"x{number}", "name": f"客户{number}", "tags": tags})).json()["id"])
    seen, cursor = [], None
    while True:
        params = {"limit": 3, "tag": "even"} | ({"cursor": cursor} if cursor else {})
        page = (await profiles.client.get("/v1/customers", params=params, headers=profiles.auth())).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids[0::2]
    by_external = (await profiles.client.get("/v1/customers", params={"external_id": "x3"}, headers=profiles.auth())).json()
    assert [item["id"] for item in by_external["items"]] == [ids[3]]


async def test_an_update_changes_only_the_fields_sent_and_names_them_in_its_event(profiles):
    customer = (await create(profiles)).json()
    response = await profiles.client.patch(f"/v1/customers/{customer['id']}", json={"address": "上海市浦东新区世纪大道100号"},
                                           headers=profiles.auth())
    assert response.status_code == 200
    assert response.json()["address"] == "上海市浦东新区世纪大道100号"
    assert response.json()["name"] == ZHANG["name"]
    assert response.json()["version"] == 2
    await profiles.drain_outbox()
    updated = profiles.recorder.events("pulse.customer.updated.v1")
    assert [event.data["changed_fields"] for event in updated] == [["address"]]


async def test_batch_upsert_creates_updates_and_reports_each_item(profiles):
    await create(profiles)
    items = [
        {"external_id": "crm-0001", "name": "张三丰", "tags": ["vip"]},
        {"external_id": "crm-0002", "name": "王五"},
        {"external_id": "crm-0003", "name": "赵六", "phone": "not a phone"},
        {"external_id": "crm-0002", "name": "王五"},
    ]
    response = await profiles.client.post("/v1/customers:batch", json={"items": items}, headers=profiles.auth())
    assert response.status_code == 200
    statuses = [(result["status"], result["http_status"]) for result in response.json()["results"]]
    assert statuses == [("updated", 200), ("created", 201), ("error", 422), ("unchanged", 200)]
    assert response.json()["results"][2]["error"]["errors"][0]["field"] == "phone"


async def test_merge_moves_history_to_the_survivor(profiles):
    survivor = (await create(profiles)).json()
    duplicate = (await create(profiles, {"external_id": "crm-dup", "name": "张三丰", "address": "湖北省十堰市武当山"})).json()
    purchase = {"order_id": "o-1", "customer_id": duplicate["id"], "amount": "99.00", "occurred_at": "2026-05-01T10:00:00+08:00"}
    assert (await profiles.client.post("/v1/purchases", json=purchase, headers=profiles.auth())).status_code == 201
    candidates = (await profiles.client.get(f"/v1/customers/{survivor['id']}/duplicates", headers=profiles.auth())).json()
    assert candidates[0]["customer_id"] == duplicate["id"] and "same_name" in candidates[0]["reasons"]
    merged = await profiles.client.post("/v1/customers:merge", json={"survivor_id": survivor["id"], "duplicate_ids": [duplicate["id"]]},
                                        headers=profiles.auth())
    assert merged.status_code == 200, merged.text
    assert merged.json()["moved_purchases"] == 1
    history = (await profiles.client.get(f"/v1/customers/{survivor['id']}/purchases", headers=profiles.auth())).json()
    assert [item["order_id"] for item in history["items"]] == ["o-1"]
    gone = (await profiles.client.get(f"/v1/customers/{duplicate['id']}", headers=profiles.auth())).json()
    assert (gone["status"], gone["merged_into"], gone["name"]) == ("merged", survivor["id"], None)
    later = {**purchase, "order_id": "o-2"}
    redirected = await profiles.client.post("/v1/purchases", json=later, headers=profiles.auth())
    assert redirected.json()["customer_id"] == survivor["id"]
    await profiles.drain_outbox()
    [event] = profiles.recorder.events("pulse.customer.merged.v1")
    assert (event.subject, event.data["merged_customer_id"]) == (survivor["id"], duplicate["id"])


async def test_erase_deletes_personal_data_keeps_a_tombstone_and_tells_subscribers(profiles):
    customer = (await create(profiles)).json()
    note = {"customer_id": customer["id"], "channel": "call", "direction": "inbound", "note": "客户说地址是建国路88号",
            "occurred_at": "2026-05-01T10:00:00+08:00"}
    await profiles.client.post("/v1/interactions", json=note, headers=profiles.auth())
    assert (await profiles.client.delete(f"/v1/customers/{customer['id']}", headers=profiles.auth())).status_code == 204
    assert (await profiles.client.get(f"/v1/customers/{customer['id']}", headers=profiles.auth())).status_code == 410
    async with profiles.database.sessions() as session:
        row = await session.get(Customer, customer["id"])
        notes = (await session.execute(sa.text("SELECT note_enc FROM interactions"))).scalars().all()
    assert row.status == "erased"
    assert (row.name_enc, row.email_enc, row.phone_enc, row.address_enc, row.email_hash, row.phone_hash) == (None,) * 6
    assert notes == [None]
    await profiles.drain_outbox()
    assert [event.subject for event in profiles.recorder.events("pulse.customer.erased.v1")] == [customer["id"]]
    fresh = await create(profiles, external_id="crm-new")
    assert fresh.status_code == 201, "the erased customer's email and phone are free again"


async def test_an_analyst_sees_customers_without_personal_data(profiles):
    customer = (await create(profiles)).json()
    analyst = await profiles.key_for("analyst")
    seen = (await profiles.client.get(f"/v1/customers/{customer['id']}", headers=profiles.auth(analyst))).json()
    assert seen["personal_data_redacted"] is True
    assert (seen["name"], seen["email"], seen["phone"], seen["address"]) == (None, None, None, None)
    assert seen["tags"] == ZHANG["tags"]


async def test_personal_data_survives_a_key_rotation_and_re_encryption(profiles):
    customer_id = (await create(profiles)).json()["id"]
    old_keys = profiles.platform.settings.encryption_keys.split(",")
    new_key = Fernet.generate_key().decode()
    rewritten = await reencrypt_personal_data(profiles.database, FieldCipher([new_key, *old_keys]))
    assert rewritten == 1
    async with profiles.database.sessions() as session:
        row = await session.get(Customer, customer_id)
    assert FieldCipher([new_key]).decrypt(row.name_enc) == ZHANG["name"]


async def test_consent_is_given_for_codes_only_since_it_is_published(profiles):
    refused = await create(profiles, consent={"王先生的短信": True})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"].startswith("consent")
