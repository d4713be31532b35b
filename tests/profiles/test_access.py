"""Every /v1 endpoint needs a key; roles limit what a key may do."""

import pytest
import sqlalchemy as sa

ROUTES = [
    ("POST", "/v1/customers"), ("GET", "/v1/customers"), ("POST", "/v1/customers:batch"), ("POST", "/v1/customers:merge"),
    ("GET", "/v1/customers/x"), ("PATCH", "/v1/customers/x"), ("DELETE", "/v1/customers/x"), ("GET", "/v1/customers/x/duplicates"),
    ("POST", "/v1/purchases"), ("POST", "/v1/purchases:batch"), ("GET", "/v1/purchases/x"), ("POST", "/v1/purchases/x/refunds"),
    ("GET", "/v1/customers/x/purchases"), ("POST", "/v1/interactions"), ("GET", "/v1/customers/x/interactions"),
    ("POST", "/v1/api-keys"), ("GET", "/v1/api-keys"), ("DELETE", "/v1/api-keys/x"),
]


def test_the_route_table_covers_every_v1_route(profiles):
    paths = profiles.app.openapi()["paths"]
    served = {(method.upper(), path) for path, operations in paths.items() if path.startswith("/v1") for method in operations}
    listed = {(method, path.replace("/x", "/{id}")) for method, path in ROUTES}
    normalised = {(method, path.replace("{customer_id}", "{id}").replace("{purchase_id}", "{id}").replace("{key_id}", "{id}"))
                  for method, path in served}
    assert normalised == listed


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_a_missing_or_wrong_key_is_401(profiles, method, path):
    missing = await profiles.client.request(method, path)
    wrong = await profiles.client.request(method, path, headers={"Authorization": "Bearer pk_00000000000000000000000000000000_nope"})
    garbage = await profiles.client.request(method, path, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert (missing.status_code, wrong.status_code, garbage.status_code) == (401, 401, 401)
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("role", "method", "path"), [
    ("analyst", "POST", "/v1/customers"),
    ("analyst", "POST", "/v1/purchases"),
    ("agent", "POST", "/v1/purchases:batch"),
    ("agent", "POST", "/v1/customers:merge"),
    ("agent", "DELETE", "/v1/customers/x"),
    ("service", "DELETE", "/v1/customers/x"),
    ("manager", "POST", "/v1/api-keys"),
    ("service", "GET", "/v1/api-keys"),
])
async def test_a_role_without_the_right_is_403(profiles, role, method, path):
    key = await profiles.key_for(role)
    response = await profiles.client.request(method, path, json={}, headers=profiles.auth(key))
    assert response.status_code == 403
    assert role in response.json()["detail"]


async def test_a_revoked_key_stops_working(profiles):
    created = await profiles.client.post("/v1/api-keys", json={"name": "pos terminal", "role": "service"}, headers=profiles.auth())
    assert created.status_code == 201
    key, key_id = created.json()["key"], created.json()["id"]
    assert (await profiles.client.get("/v1/customers", headers=profiles.auth(key))).status_code == 200
    assert (await profiles.client.delete(f"/v1/api-keys/{key_id}", headers=profiles.auth())).status_code == 204
    assert (await profiles.client.get("/v1/customers", headers=profiles.auth(key))).status_code == 401


async def test_keys_are_stored_only_as_hashes(profiles):
    created = (await profiles.client.post("/v1/api-keys", json={"name": "n", "role": "agent"}, headers=profiles.auth())).json()
    secret = created["key"].split("_", 2)[2]
    async with profiles.platform.key_store.database.sessions() as session:
        rows = (await session.execute(sa.text("SELECT * FROM api_keys"))).all()
    assert secret not in repr(rows)
