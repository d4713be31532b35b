"""Shared fixtures. Real PostgreSQL and Kafka are started by the suite when not configured:
PULSE_TEST_POSTGRES_URL (a server URL, e.g. postgresql://pulse@127.0.0.1:5432) and
PULSE_KAFKA_BOOTSTRAP (host:port) point the suite at servers that already run."""

import asyncio
import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import pytest

from tests.harness import profiles_service, settings_for_tests
from tests.support.kafka_broker import KafkaBroker
from tests.support.oidc_provider import OidcProvider
from tests.support.postgres_server import PostgresServer


def pytest_addoption(parser):
    parser.addoption("--sqlite-only", action="store_true", help="run database-parametrised tests on SQLite only")


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        backends = [pytest.param("sqlite")]
        if not metafunc.config.getoption("--sqlite-only"):
            backends.append(pytest.param("postgres", marks=pytest.mark.postgres))
        metafunc.parametrize("backend", backends, indirect=True)


def pytest_collection_modifyitems(items):
    """Markers follow from the real servers a test asks for, so `-m "not kafka"` leaves them out."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "kafka_bootstrap" in fixtures:
            item.add_marker(pytest.mark.kafka)
        if "postgres_server" in fixtures:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def backend(request):
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


class ExternalPostgres:
    """A server the caller runs (PULSE_TEST_POSTGRES_URL); each test gets a database of its own."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def create_database(self, name: str) -> str:
        async def create() -> None:
            connection = await asyncpg.connect(f"{self.url}/postgres")
            try:
                await connection.execute(f'CREATE DATABASE "{name}"')
            finally:
                await connection.close()

        # A fixture may run while the test's event loop runs: a thread has a loop of its own.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, create()).result(timeout=60)
        return self.url.replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    if os.environ.get("PULSE_TEST_POSTGRES_URL"):
        yield ExternalPostgres(os.environ["PULSE_TEST_POSTGRES_URL"])
        return
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def oidc_provider():
    """The suite's identity provider stand-in (tests that rotate its keys start one of their own)."""
    provider = OidcProvider().start()
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory):
    """The suite's shared broker. Tests that stop a broker start one of their own."""
    if os.environ.get("PULSE_KAFKA_BOOTSTRAP"):
        yield os.environ["PULSE_KAFKA_BOOTSTRAP"]
        return
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka"))
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()
