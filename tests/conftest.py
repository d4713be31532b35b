"""Shared fixtures. Real PostgreSQL and Kafka are started by the suite when not configured:
PULSE_TEST_POSTGRES_URL (a server URL, e.g. postgresql://pulse@127.0.0.1:5432) and
PULSE_KAFKA_BOOTSTRAP (host:port) point the suite at servers that already run."""

import os

import pytest

from tests.harness import profiles_service, settings_for_tests


def pytest_addoption(parser):
    parser.addoption("--sqlite-only", action="store_true", help="run database-parametrised tests on SQLite only")


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        backends = ["sqlite"] if metafunc.config.getoption("--sqlite-only") else ["sqlite", "postgres"]
        metafunc.parametrize("backend", backends, indirect=True)


@pytest.fixture
def backend(request):
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
    return request.param


@pytest.fixture
def database_url(backend, request, tmp_path) -> str:
    if backend == "sqlite":
        return ""
    server = request.getfixturevalue("postgres_server")
    return server.create_database(f"t_{os.urandom(6).hex()}")


@pytest.fixture
async def profiles(tmp_path, database_url):
    async with profiles_service(settings_for_tests(tmp_path, database_url=database_url)) as harness:
        yield harness
