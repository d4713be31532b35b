"""Every /v1 endpoint needs a credential, an API key or an identity provider's token; roles limit
what it may do, as the README's role table says, whichever the credential."""

from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.harness import profiles_service, settings_for_tests

README = Path(__file__).parents[2] / "README.md"
ROLES = ["admin", "manager", "agent", "analyst", "service"]

ROUTES = [
    ("POST", "/v1/customers"), ("GET", "/v1/customers"), ("POST", "/v1/customers:batch"), ("POST", "/v1/customers:merge"),
    ("GET", "/v1/customers/x"), ("PATCH", "/v1/customers/x"), ("DELETE", "/v1/customers/x"), ("GET", "/v1/customers/x/duplicates"),
    ("POST", "/v1/purchases"), ("POST", "/v1/purchases:batch"), ("GET", "/v1/purchases/x"), ("POST", "/v1/purchases/x/refunds"),
    ("GET", "/v1/customers/x/purchases"), ("POST", "/v1/interactions"), ("GET", "/v1/customers/x/interactions"),
    ("POST", "/v1/api-keys"), ("GET", "/v1/api-keys"), ("DELETE", "/v1/api-keys/x"),
]

# The README's role table, row by row: the routes that each row's permission opens.
ROUTES_OF_ROW = {
    "read customers, purchases, interactions": [
        ("GET", "/v1/customers"), ("GET", "/v1/customers/x"), ("GET", "/v1/customers/x/duplicates"), ("GET", "/v1/purchases/x"),
        ("GET", "/v1/customers/x/purchases"), ("GET", "/v1/customers/x/interactions"),
    ],
    "create and update customers, batch upsert": [("POST", "/v1/customers"), ("PATCH", "/v1/customers/x"), ("POST", "/v1/customers:batch")],
    "log interactions": [("POST", "/v1/interactions")],
    "record purchases and refunds, purchase batches": [
        ("POST", "/v1/purchases"), ("POST", "/v1/purchases:batch"), ("POST", "/v1/purchases/x/refunds"),
    ],
    "merge customers": [("POST", "/v1/customers:merge")],
    "erase customers": [("DELETE", "/v1/customers/x")],
    "manage API keys": [("POST", "/v1/api-keys"), ("GET", "/v1/api-keys"), ("DELETE", "/v1/api-keys/x")],
}


def readme_role_table() -> dict[str, set[str]]:
    """Row label → the roles ticked in README's '## Roles' table."""
    section = README.read_text().split("## Roles", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip().strip("|").split("|") for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in rows[0]]
    return {cells[0].strip(): {header[i] for i, cell in enumerate(cells) if i and cell.strip().startswith("✓")}
            for cells in rows[2:]}


@pytest.fixture
async def profiles(tmp_path, database_url, oidc_provider):
    """Profiles trusting the identity provider stand-in too: API keys must work beside tokens."""
    settings = settings_for_tests(tmp_path, database_url=database_url, **oidc_provider.settings())
    async with profiles_service(settings) as harness:
        yield harness


@pytest.fixture(params=["api key", "identity provider token"])
def credential(request, profiles, oidc_provider):
    """`await credential(role)` → the Authorization header of that kind of credential for the role."""
    async def headers_for(role: str) -> dict:
        if request.param == "api key":
            return profiles.auth(await profiles.key_for(role))
        return {"Authorization": f"Bearer {oidc_provider.token_for(role)}"}
    return headers_for


def test_the_role_table_rows_cover_every_route():
    table = readme_role_table()
    assert set(ROUTES_OF_ROW) <= set(table)
    assert sorted(route for routes in ROUTES_OF_ROW.values() for route in routes) == sorted(ROUTES)


async def test_the_readme_role_table_holds(profiles, credential):
    table = readme_role_table()
    for role in ROLES:
        headers = await credential(role)
        for row, routes in ROUTES_OF_ROW.items():
            for method, path in routes:
                response = await profiles.client.request(method, path, json={}, headers=headers)
                allowed = role in table[row]
                assert (response.status_code != 403) == allowed, (role, method, path, response.status_code)
                assert response.status_code != 401, (role, method, path)


async def test_personal_data_is_shown_as_the_readme_says(profiles, credential):
    created = await profiles.client.post("/v1/customers", json={"name": "Li Wei", "email": "li.wei@example.com"}, headers=profiles.auth())
    assert created.status_code == 201, created.text
    sees_personal_data = readme_role_table()["see personal data (name, email, phone, address, notes)"]
    for role in ROLES:
        customer = (await profiles.client.get(f"/v1/customers/{created.json()['id']}", headers=await credential(role))).json()
        assert (customer.get("email") == "li.wei@example.com") == (role in sees_personal_data), (role, customer)


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
async def test_a_role_without_the_right_is_403(profiles, credential, role, method, path):
    response = await profiles.client.request(method, path, json={}, headers=await credential(role))
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
