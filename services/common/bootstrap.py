"""The one place where settings choose the adapters: bus, key store, and profiles' secrets."""

from dataclasses import dataclass
from pathlib import Path

from services.common.auth import KeyStore
from services.common.bus import Bus, InProcessBus
from services.common.catalog import CATALOG, topic_of
from services.common.database import Database
from services.common.kafka_bus import KafkaBus
from services.common.privacy import load_or_create_secrets
from services.common.settings import Settings

AUTH_MIGRATIONS = Path(__file__).parent / "auth_migrations"


@dataclass(frozen=True)
class Secrets:
    encryption_keys: list[str]
    hash_key: str


def resolve_secrets(settings: Settings) -> Secrets:
    """The profiles service's keys, which only it holds: it alone stores personal data.

    The embedded mode keeps generated ones in ./data/secrets.json; a service of its own must be given
    them, and refuses to start with a one-line reason otherwise."""
    if settings.encryption_keys and settings.hash_key:
        keys = [key.strip() for key in settings.encryption_keys.split(",") if key.strip()]
        return Secrets(encryption_keys=keys, hash_key=settings.hash_key)
    if settings.bus == "inprocess":
        stored = load_or_create_secrets(settings.data_dir / "secrets.json")
        return Secrets(encryption_keys=stored["encryption_keys"], hash_key=stored["hash_key"])
    raise SystemExit("profiles needs PULSE_ENCRYPTION_KEYS and PULSE_HASH_KEY (see README, 'Settings')")


def all_topics(settings: Settings) -> list[str]:
    topics = sorted({topic_of(event_type, settings.topics) for event_type in CATALOG})
    return topics + [f"{topic}.dlq" for topic in topics]


def build_bus(settings: Settings, *, client_id: str) -> Bus:
    if settings.bus == "inprocess":
        return InProcessBus()
    return KafkaBus(
        bootstrap=settings.kafka_bootstrap, client_id=client_id, partitions=settings.kafka_partitions,
        replication_factor=settings.kafka_replication_factor, topics=all_topics(settings),
    )


def build_key_store(settings: Settings) -> KeyStore:
    database = Database(settings.auth_url(), migrations=[AUTH_MIGRATIONS])
    return KeyStore(database, cache_seconds=settings.api_key_cache_seconds)
