"""The alerts service's own key for webhook secrets and robot URLs at rest.

It is not the profiles key: a leak of one service's key opens nothing of the other's. Set
PULSE_ALERTS_SECRET_KEYS (Fernet keys, newest first); in the embedded mode a key is made on first
start and kept in <data_dir>/alerts-secrets.json (mode 0600)."""

import json
import os

from cryptography.fernet import Fernet

from services.alerts.settings import AlertsSettings
from services.common.privacy import FieldCipher


def alerts_cipher(settings: AlertsSettings) -> FieldCipher:
    if settings.alerts_secret_keys:
        return FieldCipher([key.strip() for key in settings.alerts_secret_keys.split(",") if key.strip()])
    if settings.bus != "inprocess":
        raise RuntimeError("set PULSE_ALERTS_SECRET_KEYS (see README, 'Settings')")
    path = settings.data_dir / "alerts-secrets.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process of the embedded stack made it first
            pass
        else:
            with os.fdopen(descriptor, "w") as handle:
                json.dump({"keys": [Fernet.generate_key().decode()]}, handle)
    return FieldCipher(json.loads(path.read_text())["keys"])
