"""Only profiles, which holds personal data, is given the encryption and hash keys."""

import asyncio
import importlib

import httpx
from cryptography.fernet import Fernet
import pytest

from services.common.service_app import Platform
from services.profiles.app import create_app as create_profiles
from tests.harness import settings_for_tests


def _without_keys(tmp_path, kafka_bootstrap):
    return settings_for_tests(tmp_path, bus="kafka", kafka_bootstrap=kafka_bootstrap, encryption_keys="", hash_key="")


@pytest.mark.kafka
@pytest.mark.parametrize("service", ["feedback", "scoring", "alerts"])
async def test_a_service_without_personal_data_starts_on_kafka_without_the_keys(service, tmp_path, kafka_bootstrap):
    own_keys = {"alerts_secret_keys": Fernet.generate_key().decode(), "survey_link_key": "feedback-own-key"}
    platform = Platform.from_settings(_without_keys(tmp_path, kafka_bootstrap), client_id=f"test-{service}", service_settings=own_keys)
    app = importlib.import_module(f"services.{service}.app").create_app(platform)
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
                assert await _ready_within(client, seconds=60), "not ready: its topics were never created"
    finally:
        await platform.key_store.database.dispose()
    assert not (tmp_path / "secrets.json").exists(), "no keys are made for a service that needs none"


async def _ready_within(client: httpx.AsyncClient, *, seconds: float) -> bool:
    """Ready once its database answers and its topics exist on the broker."""
    for _ in range(int(seconds / 0.2)):
        if (await client.get("/readyz")).status_code == 200:
            return True
        await asyncio.sleep(0.2)
    return False


def test_profiles_on_kafka_without_the_keys_refuses_with_a_one_line_reason(tmp_path):
    # No broker is needed: profiles refuses before it connects to anything.
    platform = Platform.from_settings(_without_keys(tmp_path, "127.0.0.1:1"), client_id="test-profiles")
    with pytest.raises(SystemExit) as refused:
        create_profiles(platform)
    reason = str(refused.value)
    assert "PULSE_ENCRYPTION_KEYS" in reason and "PULSE_HASH_KEY" in reason and "\n" not in reason
