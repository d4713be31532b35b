"""Browser pages from the allowed origins may call the APIs and read every answer, errors included."""

import pytest

from services.common.cors import allowed_origins
from services.common.service_app import Platform
from services.profiles.app import create_app as create_profiles
from tests.harness import profiles_service, settings_for_tests

APP = "https://app.example.com"
OTHER = "https://evil.example.net"


@pytest.fixture
async def profiles(tmp_path):
    settings = settings_for_tests(tmp_path, cors_allowed_origins=f"{APP}, http://127.0.0.1:5173/",
                                  max_body_bytes=4096)
    async with profiles_service(settings) as harness:
        yield harness


async def test_a_preflight_from_an_allowed_origin_is_answered(profiles):
    response = await profiles.client.options("/v1/customers", headers={
        "Origin": APP, "Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "authorization, if-match",
    })
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "PATCH" in response.headers["access-control-allow-methods"]
    assert {"authorization", "if-match"} <= {h.strip() for h in response.headers["access-control-allow-headers"].lower().split(",")}


async def test_a_preflight_from_another_origin_gets_no_permission(profiles):
    response = await profiles.client.options("/v1/customers", headers={
        "Origin": OTHER, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization",
    })
    assert "access-control-allow-origin" not in response.headers


async def test_an_answer_exposes_etag_location_and_request_id(profiles):
    response = await profiles.client.get("/v1/customers", headers={"Origin": APP, **profiles.auth()})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP
    assert response.headers["access-control-allow-credentials"] == "true"
    exposed = {name.strip().lower() for name in response.headers["access-control-expose-headers"].split(",")}
    assert exposed == {"etag", "location", "x-request-id"}
    assert "origin" in response.headers["vary"].lower()


async def test_an_origin_with_a_trailing_slash_in_the_setting_still_matches(profiles):
    response = await profiles.client.get("/v1/customers", headers={"Origin": "http://127.0.0.1:5173", **profiles.auth()})
    assert response.headers["access-control-allow-origin"] == "http://127.0.0.1:5173"


@pytest.mark.parametrize(("status", "request_args"), [
    (401, {"method": "GET", "url": "/v1/customers", "headers": {}}),
    (403, {"method": "POST", "url": "/v1/api-keys", "json": {"name": "x", "role": "agent"}, "key_role": "analyst"}),
    (422, {"method": "POST", "url": "/v1/customers", "json": {"email": 5}, "key_role": "admin"}),
    (413, {"method": "POST", "url": "/v1/customers", "content": b"{" + b" " * 5000 + b"}", "key_role": "admin"}),
])
async def test_problem_answers_carry_cors_headers_so_the_page_can_read_them(profiles, status, request_args):
    args = dict(request_args)
    role = args.pop("key_role", None)
    headers = {"Origin": APP, **args.pop("headers", {})}
    if role:
        headers.update(profiles.auth(await profiles.key_for(role)))
    response = await profiles.client.request(headers=headers, **args)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["access-control-allow-origin"] == APP
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()


async def test_another_origin_gets_no_cors_headers(profiles):
    response = await profiles.client.get("/v1/customers", headers={"Origin": OTHER, **profiles.auth()})
    assert response.status_code == 200  # the server answers; the browser withholds it from the page
    assert "access-control-allow-origin" not in response.headers


async def test_by_default_no_origin_is_allowed(tmp_path):
    async with profiles_service(settings_for_tests(tmp_path)) as profiles:
        response = await profiles.client.get("/v1/customers", headers={"Origin": APP, **profiles.auth()})
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("setting", ["*", "https://app.example.com,*", "https://*.example.com"])
def test_a_wildcard_is_refused_at_start_with_one_line(tmp_path, setting):
    platform = Platform.from_settings(settings_for_tests(tmp_path, cors_allowed_origins=setting))
    with pytest.raises(SystemExit) as stopped:
        create_profiles(platform)
    reason = str(stopped.value)
    assert "PULSE_CORS_ALLOWED_ORIGINS" in reason and "wildcard" in reason and "\n" not in reason


@pytest.mark.parametrize("setting", ["app.example.com", "https://app.example.com/path", "ftp://app.example.com"])
def test_a_value_that_is_not_an_origin_is_refused(setting):
    with pytest.raises(SystemExit, match="not an origin"):
        allowed_origins(setting)


def test_origins_are_read_from_a_comma_separated_list():
    assert allowed_origins(" https://a.example.com , http://127.0.0.1:8080/ ,") == ["https://a.example.com", "http://127.0.0.1:8080"]
    assert allowed_origins("") == []
