"""The alerts service's own key for webhook secrets and robot URLs at rest.

It is not the profiles key: a leak of one service's key opens nothing of the other's. Set
PULSE_ALERTS_SECRET_KEYS (Fernet keys, newest first); in the embedded mode a key is made on first
start and kept in <data_dir>/alerts-secrets.json (mode 0600)."""

from cryptography.fernet import Fernet

from services.alerts.settings import AlertsSettings
from services.common.privacy import FieldCipher
from services.common.service_keys import own_keys


def alerts_cipher(settings: AlertsSettings) -> FieldCipher:
    return FieldCipher(own_keys(settings, configured=settings.alerts_secret_keys, variable="PULSE_ALERTS_SECRET_KEYS",
                                file_name="alerts-secrets.json", make=lambda: Fernet.generate_key().decode()))
