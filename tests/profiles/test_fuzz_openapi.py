"""schemathesis generates requests from the profiles OpenAPI document; none may end in a 5xx."""

import pytest

from tests.support.openapi_fuzz import fuzz, operations, start_service


@pytest.fixture(scope="module")
def running_profiles(tmp_path_factory):
    running = start_service("profiles", tmp_path_factory.mktemp("fuzz"))
    yield running
    running[0].stop()


@pytest.mark.parametrize(("method", "path"), operations("profiles"), ids=lambda value: value)
def test_no_generated_request_gets_a_server_error(running_profiles, method, path):
    fuzz(running_profiles, method, path)
