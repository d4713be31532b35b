"""Tokens from the company's identity provider (a stand-in on 127.0.0.1) beside API keys."""

import socket
import time
from typing import Annotated

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from fastapi import APIRouter, Depends

from services.common.auth import Principal, require
from services.common.oidc import KeySet, TokenRejected
from services.common.service_app import Platform, ServiceSpec, build_service_app
from tests.harness import profiles_service, running, settings_for_tests
from tests.support.oidc_provider import (
    GROUP_OF_ROLE, OidcProvider, SigningKey, hs256_with_public_key, rsa_key, tampered, unsigned_token,
)

ROLES = sorted(GROUP_OF_ROLE)


@pytest.fixture
async def profiles(tmp_path, oidc_provider):
    async with profiles_service(settings_for_tests(tmp_path, **oidc_provider.settings())) as harness:
        yield harness


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("role", ROLES)
async def test_a_valid_token_works_with_the_role_its_group_maps_to(profiles, oidc_provider, role):
    token = oidc_provider.token_for(role)
    listed = await profiles.client.get("/v1/customers", headers=bearer(token))
    key_made = await profiles.client.post("/v1/api-keys", json={"name": "pos", "role": "service"}, headers=bearer(token))
    assert listed.status_code == 200
    assert key_made.status_code == (201 if role == "admin" else 403)


async def test_an_ec_signed_token_works(profiles, oidc_provider):
    token = oidc_provider.token(key=oidc_provider.keys[1], role="analyst")
    assert oidc_provider.keys[1].algorithm == "ES256"
    assert (await profiles.client.get("/v1/customers", headers=bearer(token))).status_code == 200


@pytest.mark.parametrize(("algorithm", "make_key"), [
    ("PS256", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    ("ES384", lambda: ec.generate_private_key(ec.SECP384R1())),
    ("EdDSA", ed25519.Ed25519PrivateKey.generate),
])
async def test_other_asymmetric_algorithms_work(tmp_path, algorithm, make_key):
    provider = OidcProvider(keys=[SigningKey(f"k-{algorithm}", make_key(), algorithm)]).start()
    try:
        async with profiles_service(settings_for_tests(tmp_path, **provider.settings())) as profiles:
            response = await profiles.client.get("/v1/customers", headers=bearer(provider.token(role="analyst")))
        assert response.status_code == 200, response.text
    finally:
        provider.stop()


async def test_a_token_expired_within_the_clock_skew_still_works(profiles, oidc_provider):
    token = oidc_provider.token(lifetime=-30, iat=int(time.time()) - 400, nbf=int(time.time()) - 400)
    assert (await profiles.client.get("/v1/customers", headers=bearer(token))).status_code == 200


REFUSED = {  # case: (token, why)
    "expired": (lambda p: p.token(lifetime=-120, iat=int(time.time()) - 400, nbf=int(time.time()) - 400), "expired"),
    "not yet valid": (lambda p: p.token(nbf=int(time.time()) + 600), "not valid yet"),
    "wrong audience": (lambda p: p.token(aud="another-client"), "another audience"),
    "wrong issuer": (lambda p: p.token(iss="http://127.0.0.1:9/realms/elsewhere"), "another issuer"),
    "unknown key": (lambda p: p.token(key=rsa_key()), "does not publish"),
    "alg none": (lambda p: unsigned_token(p.claims(role="admin"), kid=p.keys[0].kid), "'none' are not accepted"),
    "HS256 with the public key": (lambda p: hs256_with_public_key(p.claims(role="admin"), p.keys[0]), "'HS256' are not accepted"),
    "tampered": (lambda p: tampered(p.token(role="analyst"), realm_access={"roles": ["pulse-admins"]}), "signature does not verify"),
    "no expiry": (lambda p: p.token(exp=None), "lacks the 'exp' claim"),
    "no subject": (lambda p: p.token(subject=None), "lacks the 'sub' claim"),
    "not a JWT": (lambda p: "not.a.jwt", "not a well-formed JWT"),
    "RSA signature under the EC key's id": (
        lambda p: p.token(key=SigningKey(p.keys[1].kid, rsa_key().private, "RS256")), "does not match the provider's key"),
    "alg not a string": (lambda p: unsigned_token(p.claims(), kid=p.keys[0].kid, alg=["RS256"]), "are not accepted"),
    "kid not a string": (lambda p: unsigned_token(p.claims(), kid=["x"], alg="RS256"), "not a well-formed JWT"),
    "sub not a string": (lambda p: p.token(subject=12345), "the token is invalid"),
}


@pytest.mark.parametrize("case", REFUSED)
async def test_an_untrustworthy_token_is_401_with_the_reason(profiles, oidc_provider, case):
    make_token, why = REFUSED[case]
    response = await profiles.client.get("/v1/customers", headers=bearer(make_token(oidc_provider)))
    assert response.status_code == 401
    assert why in response.json()["detail"]
    assert response.headers["content-type"] == "application/problem+json"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="invalid_token", error_description="')
    assert response.json()["detail"] in challenge


async def test_without_credentials_the_challenge_is_plain_bearer(profiles):
    response = await profiles.client.get("/v1/customers")
    assert (response.status_code, response.headers["www-authenticate"]) == (401, "Bearer")


async def test_a_failed_api_key_says_invalid_token(profiles):
    response = await profiles.client.get("/v1/customers", headers=bearer("pk_00000000000000000000000000000000_nope"))
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


async def test_a_token_with_no_mapped_group_is_403(profiles, oidc_provider):
    response = await profiles.client.get("/v1/customers", headers=bearer(oidc_provider.token(role=None)))
    assert response.status_code == 403
    assert "realm_access.roles" in response.json()["detail"]


async def test_the_first_group_of_the_role_map_wins(profiles, oidc_provider):
    token = oidc_provider.token(role=None, realm_access={"roles": ["pulse-analysts", "pulse-admins"]})
    response = await profiles.client.get("/v1/api-keys", headers=bearer(token))
    assert response.status_code == 200  # pulse-admins comes first in the map


async def test_a_role_claim_path_such_as_groups(tmp_path, oidc_provider):
    settings = settings_for_tests(tmp_path, **oidc_provider.settings(oidc_role_claim="groups"))
    async with profiles_service(settings) as profiles:
        with_groups = oidc_provider.token(role=None, groups=["pulse-agents"])
        realm_only = oidc_provider.token(role="agent")
        assert (await profiles.client.get("/v1/customers", headers=bearer(with_groups))).status_code == 200
        assert (await profiles.client.get("/v1/customers", headers=bearer(realm_only))).status_code == 403


async def test_a_jwt_without_a_configured_provider_is_401(tmp_path, oidc_provider):
    async with profiles_service(settings_for_tests(tmp_path)) as profiles:
        response = await profiles.client.get("/v1/customers", headers=bearer(oidc_provider.token()))
    assert response.status_code == 401
    assert "PULSE_OIDC_ISSUER" in response.headers["www-authenticate"]


def _probe_router() -> APIRouter:
    router = APIRouter()

    @router.get("/v1/whoami")
    async def whoami(principal: Annotated[Principal, Depends(require("customers:read"))]) -> dict:
        return {"subject": principal.subject, "role": principal.role}

    return router


async def test_the_subject_is_the_tokens_sub_or_the_keys_id(tmp_path, oidc_provider):
    platform = Platform.from_settings(settings_for_tests(tmp_path, **oidc_provider.settings()))
    app = build_service_app(ServiceSpec(name="probe", title="probe", description="", routers=[_probe_router()]), platform)
    try:
        async with running(app, platform, recorder=None) as probe:
            record, key = await platform.key_store.create(name="pos", role="service")
            by_token = await probe.client.get("/v1/whoami", headers=bearer(oidc_provider.token(role="agent", subject="f3c1-77")))
            by_key = await probe.client.get("/v1/whoami", headers=bearer(key))
    finally:
        await platform.key_store.database.dispose()
    assert by_token.json() == {"subject": "f3c1-77", "role": "agent"}
    assert by_key.json() == {"subject": f"key:{record.id}", "role": "service"}


async def test_key_rotation_at_the_provider_is_picked_up_without_a_restart(tmp_path):
    provider = OidcProvider().start()
    try:
        settings = settings_for_tests(tmp_path, **provider.settings(oidc_jwks_min_refresh_seconds=0))
        async with profiles_service(settings) as profiles:
            old_token = provider.token(role="agent")
            assert (await profiles.client.get("/v1/customers", headers=bearer(old_token))).status_code == 200
            provider.rotate()
            new_token = provider.token(role="agent")
            assert (await profiles.client.get("/v1/customers", headers=bearer(new_token))).status_code == 200
            assert (await profiles.client.get("/v1/customers", headers=bearer(old_token))).status_code == 401
            assert provider.jwks_requests >= 2
    finally:
        provider.stop()


async def test_unknown_key_ids_refetch_the_keys_at_most_once_per_interval(oidc_provider):
    now = [1000.0]
    keys = KeySet(oidc_provider.issuer, timeout=2, max_age=600, min_refresh=10, monotonic=lambda: now[0])
    await keys.key_for(oidc_provider.keys[0].kid)
    assert keys.fetches == 1
    for _ in range(5):
        with pytest.raises(TokenRejected):
            await keys.key_for("made-up")
    assert keys.fetches == 1
    now[0] += 11
    for _ in range(5):
        with pytest.raises(TokenRejected):
            await keys.key_for("made-up")
    assert keys.fetches == 2
    now[0] += 600
    await keys.key_for(oidc_provider.keys[0].kid)  # too old: fetched again even for a known key
    assert keys.fetches == 3


async def test_a_provider_that_does_not_answer_gives_503_within_the_timeout(tmp_path, oidc_provider):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers
    try:
        issuer = f"http://127.0.0.1:{silent.getsockname()[1]}/realms/pulse"
        settings = settings_for_tests(tmp_path, **oidc_provider.settings(oidc_issuer=issuer, oidc_http_timeout_seconds=0.5))
        async with profiles_service(settings) as profiles:
            started = time.monotonic()
            response = await profiles.client.get("/v1/customers", headers=bearer(oidc_provider.token(iss=issuer)))
            elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert elapsed < 3


@pytest.mark.parametrize(("overrides", "named"), [
    ({"oidc_audience": ""}, "PULSE_OIDC_AUDIENCE"),
    ({"oidc_role_map": ""}, "PULSE_OIDC_ROLE_MAP"),
    ({"oidc_role_map": "pulse-admins=root"}, "PULSE_OIDC_ROLE_MAP"),
    ({"oidc_role_map": "pulse-admins"}, "PULSE_OIDC_ROLE_MAP"),
])
def test_a_provider_setting_that_cannot_work_stops_the_start_with_one_line(tmp_path, oidc_provider, overrides, named):
    with pytest.raises(SystemExit) as stopped:
        Platform.from_settings(settings_for_tests(tmp_path, **oidc_provider.settings(**overrides)))
    reason = str(stopped.value)
    assert named in reason and "\n" not in reason

