"""schemathesis generates requests from each service's OpenAPI document; none may end in a 5xx."""

import pytest

from services.common.settings import SERVICE_PORTS
from tests.support.openapi_fuzz import fuzz, operations, start_service


class RunningServices:
    """One service process at a time: the cases come grouped by service, so the last one started is reused."""

    def __init__(self, folders):
        self.folders = folders
        self.service = None
        self.running = None

    def get(self, service: str):
        if service != self.service:
            self.stop()
            self.running = start_service(service, self.folders.mktemp(f"fuzz-{service}"))
            self.service = service
        return self.running

    def stop(self) -> None:
        if self.running:
            self.running[0].stop()
        self.running = self.service = None


@pytest.fixture(scope="module")
def running_services(tmp_path_factory):
    services = RunningServices(tmp_path_factory)
    yield services
    services.stop()


CASES = [(service, method, path) for service in SERVICE_PORTS for method, path in operations(service)]


@pytest.mark.parametrize(("service", "method", "path"), CASES, ids=lambda value: value)
def test_no_generated_request_gets_a_server_error(running_services, service, method, path):
    fuzz(running_services.get(service), method, path)
