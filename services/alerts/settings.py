"""Settings of the alerts service: its own secret key and how webhooks are delivered."""

from services.common.settings import Settings


class AlertsSettings(Settings):
    # Comma-separated Fernet keys, newest first, for webhook secrets and robot URLs at rest. The alerts
    # service never sees the profiles keys; empty in the embedded mode means "made in the data dir".
    alerts_secret_keys: str = ""
    webhook_timeout_seconds: float = 10.0
    webhook_max_attempts: int = 12  # 30 s doubling, capped at 4 h, with jitter: the last try 6 to 12 hours after the first
    webhook_retry_base_seconds: float = 30.0
    webhook_retry_max_seconds: float = 4 * 3600.0
    webhook_disable_after_failures: int = 20  # consecutive failed tries of one endpoint
    webhook_rate_per_minute: int = 600  # default per endpoint; chat robots default to their documented 20
    webhook_chat_batch_size: int = 10  # alerts in one chat message when many are waiting
    # Link-local and cloud metadata addresses are always refused; loopback and private ranges only if set.
    webhook_block_private: bool = False
