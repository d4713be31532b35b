"""schemathesis against one service run as its own process: no generated request may get a 5xx."""

import os
import tempfile
from pathlib import Path

import schemathesis
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from services.common.service_app import Platform
from services.common.settings import SERVICE_PORTS
from tests.harness import create_app, settings_for_tests
from tests.integration.service_process import EmbeddedProcess


def operations(service: str) -> list[tuple[str, str]]:
    platform = Platform.from_settings(settings_for_tests(Path(tempfile.mkdtemp())))
    paths = create_app(service, platform).openapi()["paths"]
    return [(method.upper(), path) for path, methods in sorted(paths.items()) for method in sorted(methods)]


def start_service(service: str, folder: Path):
    """The embedded stack in a process of its own (a service alone would need Kafka), aimed at `service`."""
    env = {"PULSE_DATA_DIR": str(folder), "PULSE_ENCRYPTION_KEYS": Fernet.generate_key().decode(), "PULSE_HASH_KEY": "fuzz"}
    process = EmbeddedProcess(env, folder / "embedded.log")
    process.port += SERVICE_PORTS[service] - SERVICE_PORTS["profiles"]
    key = process.cli("keys", "create", "--role", "admin", "--name", "fuzzer")
    process.start()
    return process, key, schemathesis.openapi.from_url(f"{process.url}/openapi.json")


def fuzz(running, method: str, path: str) -> None:
    process, key, schema = running
    operation = schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=int(os.environ.get("PULSE_FUZZ_EXAMPLES", "25")), deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def call(case):
        response = case.call(base_url=process.url, headers={"Authorization": f"Bearer {key}"})
        case.validate_response(response, checks=[not_a_server_error])

    call()
