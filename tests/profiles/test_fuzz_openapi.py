"""schemathesis generates requests from the profiles OpenAPI document; none may end in a 5xx."""

import os
import tempfile
from pathlib import Path

import pytest
import schemathesis
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from services.common.service_app import Platform
from services.profiles.app import create_app
from tests.harness import settings_for_tests
from tests.integration.service_process import EmbeddedProcess


def _operations() -> list[tuple[str, str]]:
    platform = Platform.from_settings(settings_for_tests(Path(tempfile.mkdtemp())))
    paths = create_app(platform).openapi()["paths"]
    return [(method.upper(), path) for path, operations in sorted(paths.items()) for method in sorted(operations)]


@pytest.fixture(scope="module")
def running_profiles(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    env = {"PULSE_DATA_DIR": str(folder), "PULSE_ENCRYPTION_KEYS": Fernet.generate_key().decode(), "PULSE_HASH_KEY": "fuzz"}
    service = EmbeddedProcess(env, folder / "embedded.log")  # profiles alone would need Kafka
    key = service.cli("keys", "create", "--role", "admin", "--name", "fuzzer")
    service.start()
    yield service, key, schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    service.stop()


@pytest.mark.parametrize(("method", "path"), _operations(), ids=lambda value: value)
def test_no_generated_request_gets_a_server_error(running_profiles, method, path):
    service, key, schema = running_profiles
    operation = schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=int(os.environ.get("PULSE_FUZZ_EXAMPLES", "25")), deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def call(case):
        response = case.call(base_url=service.url, headers={"Authorization": f"Bearer {key}"})
        case.validate_response(response, checks=[not_a_server_error])

    call()
