"""Deployment settings, read from `PULSE_*` environment variables once, at start."""

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICE_PORTS = {"profiles": 8001, "feedback": 8002, "scoring": 8003, "alerts": 8004}


class Topics(BaseSettings):
    """Topic names are settings so that a deployment can prefix or rename them."""

    model_config = SettingsConfigDict(env_prefix="PULSE_TOPIC_")

    customers: str = "pulse.customers"
    purchases: str = "pulse.purchases"
    interactions: str = "pulse.interactions"
    feedback: str = "pulse.feedback"
    complaints: str = "pulse.complaints"
    scores: str = "pulse.scores"
    alerts: str = "pulse.alerts"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PULSE_", env_file=None)

    bus: Literal["inprocess", "kafka"] = "inprocess"
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_partitions: int = 12
    kafka_replication_factor: int = 1

    data_dir: Path = Path("data")
    # Empty means "SQLite file <data_dir>/<service>.db"; set it per process in the distributed mode.
    database_url: str = ""
    auth_database_url: str = ""

    host: str = "127.0.0.1"
    port: int = 0  # one service alone: its port; 0 means its default from SERVICE_PORTS
    workers: int = 1  # processes of one service alone (PostgreSQL only)
    port_offset: int = 0  # added to every default port, to run a second stack beside the first

    # Comma-separated Fernet keys, newest first: new data is encrypted with the first,
    # every listed key still decrypts, so keys rotate without downtime.
    encryption_keys: str = ""
    hash_key: str = ""

    base_currency: str = "CNY"
    currency_decimals: int = 2
    default_phone_region: str = "CN"

    max_body_bytes: int = 16 * 1024 * 1024
    max_batch_items: int = 5000
    max_attributes_bytes: int = 16 * 1024
    api_key_cache_seconds: float = 10.0

    # Browsers: comma-separated origins (scheme://host[:port]) whose pages may call the APIs.
    cors_allowed_origins: str = ""
    # Sign-in through the company's identity provider (OIDC); empty issuer means API keys only.
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_role_claim: str = "realm_access.roles"
    oidc_role_map: str = ""  # <group>=<role>,...; the first group the token carries wins
    oidc_clock_skew_seconds: float = 60.0
    oidc_http_timeout_seconds: float = 5.0
    oidc_jwks_cache_seconds: float = 600.0
    oidc_jwks_min_refresh_seconds: float = 10.0  # an unknown key id refetches the keys at most this often

    # A pass waits for the broker's acknowledgement before the next: at 2000 rows that wait, not the
    # relay's CPU, held purchases on Kafka to 0.41-0.44 of aiokafka alone; 5000 gave 0.52-0.57.
    outbox_batch_size: int = 5000
    outbox_poll_seconds: float = 0.5
    outbox_linger_seconds: float = 0.05  # after a wake-up, wait this long so that more rows go in one pass
    # "process": `run_service` (distributed mode, PostgreSQL) relays from a process of its own, so the
    # relay and the API do not share one interpreter; "inline": a task of each API process.
    outbox_relay: Literal["inline", "process"] = "inline"
    consumer_max_attempts: int = 5
    consumer_retry_base_seconds: float = 0.2
    # A passing failure (database away, lock, conflict) holds the partition back; the pause doubles
    # from consumer_retry_base_seconds up to this.
    consumer_backoff_max_seconds: float = 300.0
    inbox_retention_days: float = Field(default=7.0, gt=0)  # longer than any redelivery (Kafka retention)
    inbox_purge_seconds: float = 3600.0
    offload_workers: int = 1  # processes for CPU-heavy work such as model fits

    log_level: str = "INFO"
    topics: Topics = Field(default_factory=Topics)

    def database_url_for(self, service: str) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / service}.db"

    def auth_url(self) -> str:
        return self.auth_database_url or f"sqlite+aiosqlite:///{self.data_dir / 'auth'}.db"

    def port_for(self, service: str) -> int:
        return self.port or SERVICE_PORTS[service] + self.port_offset
