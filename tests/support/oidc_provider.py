"""A stand-in for the company's identity provider: a discovery document and a JWKS on 127.0.0.1,
with keys generated per run, and a way to sign tokens (good ones and the attacks we refuse)."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.support.local_http import start_server

AUDIENCE = "pulse-api"
ROLE_MAP = "pulse-admins=admin,pulse-managers=manager,pulse-agents=agent,pulse-analysts=analyst,pulse-machines=service"
GROUP_OF_ROLE = {role: group for group, role in (entry.split("=") for entry in ROLE_MAP.split(","))}


@dataclass
class SigningKey:
    kid: str
    private: object
    algorithm: str

    def public_jwk(self) -> dict:
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        jwk = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def rsa_key() -> SigningKey:
    return SigningKey(f"rsa-{uuid.uuid4().hex[:8]}", rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")


def ec_key() -> SigningKey:
    return SigningKey(f"ec-{uuid.uuid4().hex[:8]}", ec.generate_private_key(ec.SECP256R1()), "ES256")


@dataclass
class OidcProvider:
    keys: list[SigningKey] = field(default_factory=lambda: [rsa_key(), ec_key()])
    jwks_requests: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/realms/pulse"

    def start(self) -> "OidcProvider":
        self._server = start_server(self._answer)
        return self

    def _answer(self, path: str) -> tuple[str, bytes] | None:
        if path == "/realms/pulse/.well-known/openid-configuration":
            body = {"issuer": self.issuer, "jwks_uri": self.issuer + "/protocol/openid-connect/certs",
                    "id_token_signing_alg_values_supported": ["RS256", "ES256"]}
        elif path == "/realms/pulse/protocol/openid-connect/certs":
            self.jwks_requests += 1
            body = {"keys": [key.public_jwk() for key in self.keys]}
        else:
            return None
        return "application/json", json.dumps(body).encode()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def rotate(self) -> SigningKey:
        """The provider replaces its RSA key: tokens signed with the old one no longer verify."""
        self.keys = [rsa_key()] + [key for key in self.keys if not key.kid.startswith("rsa-")]
        return self.keys[0]

    def claims(self, *, role: str | None = "agent", subject: str = "user-7f3a", lifetime: int = 300, **overrides) -> dict:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": AUDIENCE, "sub": subject, "iat": now, "nbf": now, "exp": now + lifetime,
                  "realm_access": {"roles": ["offline_access"] + ([GROUP_OF_ROLE[role]] if role else [])}}
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def token(self, *, key: SigningKey | None = None, headers: dict | None = None, **claims) -> str:
        key = key or self.keys[0]
        return jwt.encode(self.claims(**claims), key.private, algorithm=key.algorithm, headers={"kid": key.kid, **(headers or {})})

    def settings(self, **overrides) -> dict:
        """The PULSE_OIDC_* settings of a service that trusts this provider."""
        return {"oidc_issuer": self.issuer, "oidc_audience": AUDIENCE, "oidc_role_claim": "realm_access.roles",
                "oidc_role_map": ROLE_MAP, **overrides}

    def token_for(self, role: str) -> str:
        return self.token(role=role, subject=f"user-{role}")


def unsigned_token(claims: dict, kid, alg="none") -> str:
    """`alg: none`: no signature at all (other headers too, to try malformed ones)."""
    return f"{_segment({'alg': alg, 'typ': 'JWT', 'kid': kid})}.{_segment(claims)}."


def hs256_with_public_key(claims: dict, key: SigningKey) -> str:
    """The classic confusion attack: HMAC keyed with the provider's public key, which anyone can read.
    Built by hand because PyJWT rightly refuses to make it."""
    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': key.kid})}.{_segment(claims)}"
    signature = hmac.new(key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def tampered(token: str, **changes) -> str:
    """The same signature over changed claims."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return f"{header}.{_segment(claims)}.{signature}"


def _segment(value: dict) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
