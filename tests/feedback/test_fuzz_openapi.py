"""schemathesis generates requests from the feedback OpenAPI document; none may end in a 5xx."""

import pytest

from tests.support.openapi_fuzz import fuzz, operations, start_service


@pytest.fixture(scope="module")
def running_feedback(tmp_path_factory):
    running = start_service("feedback", tmp_path_factory.mktemp("fuzz"))
    yield running
    running[0].stop()


@pytest.mark.parametrize(("method", "path"), operations("feedback"), ids=lambda value: value)
def test_no_generated_request_gets_a_server_error(running_feedback, method, path):
    fuzz(running_feedback, method, path)
