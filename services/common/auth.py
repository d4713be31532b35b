"""API keys and roles. Keys are shown once and stored as SHA-256 of their secret part.

A key reads `pk_<key id>_<secret>`; the secret has 256 random bits, so a fast hash suffices
(a slow password hash protects low-entropy secrets, which these are not).
"""

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request

from services.common.database import Database
from services.common.errors import Problem
from services.common.ids import new_id
from services.common.timeutil import UTCDateTime, utcnow

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({
        "customers:read", "customers:write", "customers:merge", "customers:erase", "pii:read",
        "purchases:read", "purchases:write", "interactions:read", "interactions:write", "keys:manage",
        "scores:read", "standard:write", "models:refit",
    }),
    "manager": frozenset({
        "customers:read", "customers:write", "customers:merge", "customers:erase", "pii:read",
        "purchases:read", "purchases:write", "interactions:read", "interactions:write",
        "scores:read", "standard:write", "models:refit",
    }),
    "agent": frozenset({
        "customers:read", "customers:write", "pii:read", "purchases:read", "interactions:read", "interactions:write",
        "scores:read",
    }),
    "analyst": frozenset({"customers:read", "purchases:read", "interactions:read", "scores:read"}),
    "service": frozenset({
        "customers:read", "customers:write", "pii:read", "purchases:read", "purchases:write",
        "interactions:read", "interactions:write", "scores:read",
    }),
}

metadata = sa.MetaData()
api_keys = sa.Table(
    "api_keys", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
)


CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Principal:
    key_id: str | None
    name: str
    role: str
    token_subject: str | None = None  # `sub` of an identity provider's token

    @property
    def subject(self) -> str:
        """Who did it, as history and audit fields record it: stable across a key's or a token's renewal."""
        return self.token_subject or f"key:{self.key_id}"

    @property
    def permissions(self) -> frozenset[str]:
        return ROLE_PERMISSIONS[self.role]

    def may(self, permission: str) -> bool:
        return permission in self.permissions


@dataclass(frozen=True)
class ApiKeyRecord:
    id: str
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyStore:
    def __init__(self, database: Database, *, cache_seconds: float = 10.0):
        self.database = database
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def create(self, *, name: str, role: str) -> tuple[ApiKeyRecord, str]:
        if role not in ROLE_PERMISSIONS:
            raise Problem(422, "Validation failed", f"role must be one of {sorted(ROLE_PERMISSIONS)}", field="role")
        key_id = new_id()
        secret = secrets.token_urlsafe(32)
        record = ApiKeyRecord(id=key_id, name=name, role=role, created_at=utcnow(), revoked_at=None)
        async with self.database.transaction() as session:
            await session.execute(sa.insert(api_keys).values(
                id=key_id, name=name, role=role, secret_sha256=_digest(secret), created_at=record.created_at
            ))
        return record, f"pk_{key_id.replace('-', '')}_{secret}"

    async def revoke(self, key_id: str) -> bool:
        async with self.database.transaction() as session:
            result = await session.execute(
                sa.update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)).values(revoked_at=utcnow())
            )
        self._cache.clear()
        return result.rowcount > 0

    async def list(self) -> list[ApiKeyRecord]:
        async with self.database.sessions() as session:
            rows = (await session.execute(sa.select(api_keys).order_by(api_keys.c.created_at))).all()
        return [ApiKeyRecord(r.id, r.name, r.role, r.created_at, r.revoked_at) for r in rows]

    async def count_active(self) -> int:
        async with self.database.sessions() as session:
            return await session.scalar(sa.select(sa.func.count()).select_from(api_keys).where(api_keys.c.revoked_at.is_(None)))

    async def authenticate(self, token: str) -> Principal | None:
        now = time.monotonic()
        cached = self._cache.get(token)
        if cached and now - cached[0] < self.cache_seconds:
            return cached[1]
        principal = await self._lookup(token)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = (now, principal)
        return principal

    async def _lookup(self, token: str) -> Principal | None:
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "pk" or len(parts[1]) != 32:
            return None
        hex_id = parts[1]
        key_id = f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:]}"
        async with self.database.sessions() as session:
            row = (await session.execute(sa.select(api_keys).where(api_keys.c.id == key_id))).first()
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.secret_sha256, _digest(parts[2])):
            return None
        return Principal(key_id=row.id, name=row.name, role=row.role)


async def current_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Problem(401, "Unauthorized", "send an API key or an identity provider's token as 'Authorization: Bearer ...'",
                      headers=CHALLENGE)
    if token.count(".") == 2 and not token.startswith("pk_"):
        return await _token_principal(request, token)
    principal = await request.app.state.key_store.authenticate(token)
    if principal is None:
        raise Problem(401, "Unauthorized", "the API key is unknown or revoked", headers=invalid_token("the API key is unknown or revoked"))
    return principal


async def _token_principal(request: Request, token: str) -> Principal:
    """A JWT goes to the identity provider's verifier (services/common/oidc.py), when one is set."""
    verifier = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        reason = "this deployment accepts no identity provider tokens (PULSE_OIDC_ISSUER is unset)"
        raise Problem(401, "Unauthorized", reason, headers=invalid_token(reason))
    return await verifier.authenticate(token)


def invalid_token(description: str) -> dict[str, str]:
    """RFC 6750 §3: the challenge for a token that was sent and failed; the description may not hold `"` or `\\`."""
    safe = "".join(char for char in description if 0x20 <= ord(char) <= 0x7E and char not in '"\\')
    return {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{safe}"'}


def require(permission: str):
    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.may(permission):
            raise Problem(403, "Forbidden", f"role '{principal.role}' may not do this (needs '{permission}')")
        return principal
    return check
