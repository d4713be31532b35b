"""A service's own keys: from the environment, or made once beside the data in the embedded mode."""

import stat

import pytest

from services.common.service_keys import own_keys
from tests.harness import settings_for_tests


def keys(settings, configured=""):
    return own_keys(settings, configured=configured, variable="PULSE_X_KEY", file_name="x-secrets.json", make=lambda: "made")


def test_configured_keys_are_used_newest_first(tmp_path):
    assert keys(settings_for_tests(tmp_path, bus="kafka"), configured="new, old") == ["new", "old"]


def test_the_embedded_mode_makes_a_key_once_readable_by_the_owner_only(tmp_path):
    settings = settings_for_tests(tmp_path)
    assert keys(settings) == ["made"]
    assert stat.S_IMODE((tmp_path / "x-secrets.json").stat().st_mode) == 0o600
    assert own_keys(settings, configured="", variable="PULSE_X_KEY", file_name="x-secrets.json", make=lambda: "other") == ["made"]


def test_without_the_key_a_distributed_service_refuses_in_one_line(tmp_path):
    with pytest.raises(SystemExit) as refused:
        keys(settings_for_tests(tmp_path, bus="kafka"))
    assert str(refused.value) == "set PULSE_X_KEY (see README, 'Settings')"
