"""Standard Webhooks (https://www.standardwebhooks.com): `whsec_` secrets and v1 signatures."""

import base64
import hashlib
import hmac
import json
import os
from datetime import datetime

from services.alerts.webhooks.request import OutgoingRequest

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """24 random bytes, base64, with the spec's prefix (the spec allows 24 to 64 bytes)."""
    return SECRET_PREFIX + base64.b64encode(os.urandom(24)).decode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signed_request(url: str, secret: str, *, message_id: str, payload: dict, at: datetime) -> OutgoingRequest:
    """The same message id on every try, so a receiver de-duplicates retries; a fresh timestamp each try."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = int(at.timestamp())
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
    }
    return OutgoingRequest(url=url, headers=headers, body=body)
