"""schemathesis generates requests from the alerts OpenAPI document; none may end in a 5xx."""

import os
import tempfile
import time
from pathlib import Path

import httpx
import pytest
import schemathesis
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from services.alerts.app import create_app
from services.common.service_app import Platform
from services.common.settings import SERVICE_PORTS
from tests.harness import settings_for_tests
from tests.integration.service_process import EmbeddedProcess


def _operations() -> list[tuple[str, str]]:
    platform = Platform.from_settings(settings_for_tests(Path(tempfile.mkdtemp())))
    paths = create_app(platform).openapi()["paths"]
    return [(method.upper(), path) for path, operations in sorted(paths.items()) for method in sorted(operations)
            if path.startswith("/v1/")]


@pytest.fixture(scope="module")
def running_alerts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz-alerts")
    env = {"PULSE_DATA_DIR": str(folder), "PULSE_ENCRYPTION_KEYS": Fernet.generate_key().decode(), "PULSE_HASH_KEY": "fuzz"}
    service = EmbeddedProcess(env, folder / "embedded.log")
    key = service.cli("keys", "create", "--role", "admin", "--name", "fuzzer")
    service.start()
    url = f"http://127.0.0.1:{service.port - SERVICE_PORTS['profiles'] + SERVICE_PORTS['alerts']}"
    for _ in range(100):  # the stack is ready when profiles is; alerts may be a moment later
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    yield url, key, schemathesis.openapi.from_url(f"{url}/openapi.json")
    service.stop()


@pytest.mark.parametrize(("method", "path"), _operations(), ids=lambda value: value)
def test_no_generated_request_gets_a_server_error(running_alerts, method, path):
    url, key, schema = running_alerts
    operation = schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=int(os.environ.get("PULSE_FUZZ_EXAMPLES", "25")), deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def call(case):
        response = case.call(base_url=url, headers={"Authorization": f"Bearer {key}"})
        case.validate_response(response, checks=[not_a_server_error])

    call()
