"""Personal data at rest: field encryption with rotating keys, and keyed hashes for lookups."""

import hashlib
import hmac
import json
import os
import unicodedata
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class FieldCipher:
    """Fernet (AES-128-CBC with HMAC-SHA256) over several keys: the first encrypts, all decrypt,
    so a new key is put first, data re-encrypted with `rotate`, and the old key dropped later."""

    def __init__(self, keys: list[str]):
        if not keys:
            raise ValueError("at least one encryption key is required (PULSE_ENCRYPTION_KEYS)")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def encrypt(self, plaintext: str | None) -> str | None:
        if plaintext is None:
            return None
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str | None) -> str | None:
        if token is None:
            return None
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as error:
            raise ValueError("personal data cannot be decrypted with the configured keys") from error

    def rotate(self, token: str | None) -> str | None:
        return None if token is None else self._fernet.rotate(token.encode()).decode()


class BlindIndex:
    """HMAC-SHA256 of normalised values: equal inputs match, the value itself is not stored."""

    def __init__(self, key: str):
        if not key:
            raise ValueError("a hash key is required (PULSE_HASH_KEY)")
        self._key = key.encode()

    def digest(self, purpose: str, value: str) -> str:
        return hmac.new(self._key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


def normalise_text(value: str) -> str:
    """Width- and case-insensitive form for matching (full-width Ａ matches A); never stored."""
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def search_tokens(value: str) -> set[str]:
    """Words of Latin text, and single characters and pairs of Chinese text (no spaces there)."""
    tokens: set[str] = set()
    for word in normalise_text(value).split():
        cjk_run = [char for char in word if _is_cjk(char)]
        latin = "".join(char for char in word if not _is_cjk(char))
        if latin:
            tokens.add(latin)
        tokens.update(cjk_run)
        tokens.update(a + b for a, b in zip(cjk_run, cjk_run[1:]))
    return tokens


def _is_cjk(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff" or "\U00020000" <= char <= "\U0003134f"


def load_or_create_secrets(path: Path) -> dict:
    """Embedded mode only: keys made on first start and kept beside the data (mode 0600)."""
    if path.exists():
        return json.loads(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    secrets = {"encryption_keys": [Fernet.generate_key().decode()], "hash_key": os.urandom(32).hex()}
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(secrets, handle)
    return secrets
