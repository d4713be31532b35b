"""Bearer tokens from the company's identity provider (OIDC), beside our own API keys.

A token is a JWT signed by the provider; its public keys come from the JWKS that the discovery
document (`<issuer>/.well-known/openid-configuration`) names. PyJWT checks signatures and claims;
this module only picks the key, keeps the key set fresh and maps the provider's groups to our roles.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import jwt

from services.common.auth import ROLE_PERMISSIONS, Principal, invalid_token
from services.common.errors import Problem
from services.common.settings import Settings

log = logging.getLogger(__name__)

# Only signatures made with a private key: a token signed with a shared secret (HS*) could be
# forged by anyone who read our public keys, and `none` is no signature at all.
ALGORITHMS_BY_KEY_TYPE = {
    "RSA": frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}),
    "EC": frozenset({"ES256", "ES384", "ES512"}),
    "OKP": frozenset({"EdDSA"}),
}
ASYMMETRIC_ALGORITHMS = frozenset().union(*ALGORITHMS_BY_KEY_TYPE.values())


class TokenRejected(Exception):
    """The token was sent but cannot be trusted; the message is safe to show the caller."""


class ProviderUnavailable(Exception):
    """The identity provider's discovery document or key set could not be read."""


@dataclass(frozen=True)
class RoleMapping:
    """Which claim holds the provider's groups, and which group gives which of our roles.

    The first entry of the map that the token carries wins, so list the most privileged first."""

    claim_path: tuple[str, ...]
    groups_to_roles: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, claim: str, role_map: str) -> "RoleMapping":
        pairs = []
        for entry in filter(None, (part.strip() for part in role_map.split(","))):
            group, separator, role = (piece.strip() for piece in entry.rpartition("="))
            if not separator or not group or role not in ROLE_PERMISSIONS:
                raise SystemExit(f"PULSE_OIDC_ROLE_MAP: '{entry}' is not <group>=<role> with a role of {sorted(ROLE_PERMISSIONS)}")
            pairs.append((group, role))
        if not pairs:
            raise SystemExit("PULSE_OIDC_ROLE_MAP is empty: no token could get a role (e.g. pulse-admin=admin,pulse-agents=agent)")
        path = tuple(part for part in claim.split(".") if part)
        if not path:
            raise SystemExit("PULSE_OIDC_ROLE_CLAIM is empty (e.g. realm_access.roles or groups)")
        return cls(claim_path=path, groups_to_roles=tuple(pairs))

    def role_of(self, claims: dict) -> str | None:
        groups = set(self._groups(claims))
        return next((role for group, role in self.groups_to_roles if group in groups), None)

    def _groups(self, claims: dict) -> list[str]:
        value = claims
        for part in self.claim_path:
            if not isinstance(value, dict):
                return []
            value = value.get(part)
        if isinstance(value, str):
            return value.split()  # a space-separated claim such as `scope`
        if isinstance(value, list):
            return [item for item in value if isinstance(item, str)]
        return []


@dataclass(frozen=True)
class ProviderKey:
    key: object  # a `cryptography` public key
    key_type: str  # kty
    algorithm: str | None  # alg, when the provider pins one

    def signs(self, algorithm: str) -> bool:
        return algorithm in ALGORITHMS_BY_KEY_TYPE[self.key_type] and self.algorithm in (None, algorithm)


class KeySet:
    """The provider's public keys by key id, fetched through its discovery document.

    Refetched when older than `max_age` and on an unknown key id (the provider rotated), but at
    most once per `min_refresh` seconds, so that tokens with made-up key ids cannot flood the
    provider. When a fetch fails, the keys we have stay in use."""

    def __init__(self, issuer: str, *, timeout: float, max_age: float, min_refresh: float,
                 monotonic: Callable[[], float] = time.monotonic):
        self.issuer = issuer
        self.timeout = timeout
        self.max_age = max_age
        self.min_refresh = min_refresh
        self.monotonic = monotonic
        self.fetches = 0
        self._keys: dict[str | None, ProviderKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._jwks_uri: str | None = None
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str | None) -> ProviderKey:
        if self._wants_refresh(kid):
            await self._refresh(kid)
        if not self._keys:
            raise ProviderUnavailable("no keys from the identity provider yet")
        key = self._keys.get(kid)
        if key is None and kid is None and len(self._keys) == 1:
            key = next(iter(self._keys.values()))  # a provider with one key may leave `kid` out
        if key is None:
            raise TokenRejected("the token was signed with a key the identity provider does not publish")
        return key

    def _wants_refresh(self, kid: str | None) -> bool:
        stale = self._fetched_at is None or self.monotonic() - self._fetched_at >= self.max_age
        return stale or kid not in self._keys

    async def _refresh(self, kid: str | None) -> None:
        async with self._lock:
            recently = self._attempted_at is not None and self.monotonic() - self._attempted_at < self.min_refresh
            # Another request may have refreshed while this one waited for the lock.
            if recently or not self._wants_refresh(kid):
                return
            self._attempted_at = self.monotonic()
            try:
                keys = await self._fetch()
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
                log.warning("identity provider keys unavailable: %s", type(error).__name__)
                return
            self._keys = keys
            self._fetched_at = self.monotonic()

    async def _fetch(self) -> dict[str | None, ProviderKey]:
        self.fetches += 1
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            if self._jwks_uri is None:
                response = await client.get(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
                response.raise_for_status()
                discovery = response.json()
                if discovery.get("issuer") != self.issuer:
                    raise ValueError(f"the discovery document names issuer {discovery.get('issuer')!r}")
                self._jwks_uri = discovery["jwks_uri"]
            response = await client.get(self._jwks_uri)
            response.raise_for_status()
            return _signing_keys(response.json()["keys"])


def _signing_keys(entries: list[dict]) -> dict[str | None, ProviderKey]:
    keys = {}
    for entry in entries:
        key_type = entry.get("kty")
        if entry.get("use", "sig") != "sig" or key_type not in ALGORITHMS_BY_KEY_TYPE:
            continue  # encryption keys and shared secrets never verify a token
        try:
            keys[entry.get("kid")] = ProviderKey(jwt.PyJWK(entry).key, key_type, entry.get("alg"))
        except jwt.PyJWTError:
            log.warning("identity provider key %s skipped: unsupported", entry.get("kid"))
    return keys


class OidcVerifier:
    """Turns a provider's JWT into a Principal, or says why it cannot."""

    def __init__(self, *, issuer: str, audience: str, roles: RoleMapping, keys: KeySet, clock_skew: float):
        self.issuer = issuer
        self.audience = audience
        self.roles = roles
        self.keys = keys
        self.clock_skew = clock_skew

    @classmethod
    def from_settings(cls, settings: Settings) -> "OidcVerifier | None":
        if not settings.oidc_issuer:
            return None
        if not settings.oidc_audience:
            raise SystemExit("PULSE_OIDC_AUDIENCE is required with PULSE_OIDC_ISSUER: tokens meant for other clients must be refused")
        keys = KeySet(settings.oidc_issuer, timeout=settings.oidc_http_timeout_seconds,
                      max_age=settings.oidc_jwks_cache_seconds, min_refresh=settings.oidc_jwks_min_refresh_seconds)
        return cls(issuer=settings.oidc_issuer, audience=settings.oidc_audience, keys=keys,
                   roles=RoleMapping.parse(settings.oidc_role_claim, settings.oidc_role_map),
                   clock_skew=settings.oidc_clock_skew_seconds)

    async def authenticate(self, token: str) -> Principal:
        """401 (with the reason) for a token we cannot trust, 403 for one with no role of ours,
        503 when the provider's keys cannot be read."""
        try:
            claims = await self.verify(token)
        except TokenRejected as error:
            log.info("identity provider token refused: %s", error)  # the reason only, never the token
            raise Problem(401, "Unauthorized", str(error), headers=invalid_token(str(error))) from None
        except ProviderUnavailable:
            raise Problem(503, "Service Unavailable", "the identity provider's keys cannot be read; try again shortly",
                          headers={"Retry-After": "5"}) from None
        role = self.roles.role_of(claims)
        if role is None:
            raise Problem(403, "Forbidden", f"the token carries no group that PULSE_OIDC_ROLE_MAP maps to a role "
                                            f"(claim '{'.'.join(self.roles.claim_path)}')")
        return Principal(key_id=None, name="identity provider token", role=role, token_subject=claims["sub"])

    async def verify(self, token: str) -> dict:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected("the token is not a well-formed JWT") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in ASYMMETRIC_ALGORITHMS:
            raise TokenRejected(f"tokens signed with '{algorithm}' are not accepted, only {', '.join(sorted(ASYMMETRIC_ALGORITHMS))}")
        key = await self.keys.key_for(header.get("kid"))
        if not key.signs(algorithm):
            raise TokenRejected(f"'{algorithm}' does not match the provider's key")
        try:
            return jwt.decode(
                token, key.key, algorithms=[algorithm], audience=self.audience, issuer=self.issuer,
                leeway=self.clock_skew, options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as error:
            raise TokenRejected(_reason(error)) from None


def _reason(error: jwt.PyJWTError) -> str:
    reasons = {
        jwt.ExpiredSignatureError: "the token has expired",
        jwt.ImmatureSignatureError: "the token is not valid yet (nbf or iat in the future)",
        jwt.InvalidAudienceError: "the token is meant for another audience",
        jwt.InvalidIssuerError: "the token comes from another issuer",
        jwt.InvalidSignatureError: "the token's signature does not verify",
    }
    for kind, reason in reasons.items():
        if isinstance(error, kind):
            return reason
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"the token lacks the '{error.claim}' claim"
    return "the token is invalid"

