"""A fault on the server's side still answers in problem+json, readable by an allowed page: a busy
database is a 503 the client may retry, a bug a 500 that says it was logged."""

import sqlite3

import httpx
import pytest
from fastapi import APIRouter
from sqlalchemy import exc as sa_exc

from services.profiles.app import create_app as create_profiles
from tests.harness import running, settings_for_tests
from tests.harness import test_platform as platform_for_tests

APP = "https://app.example.com"


def _failing_routes() -> APIRouter:
    router = APIRouter()

    @router.get("/probe/bug")
    async def bug() -> None:
        raise RuntimeError("a bug")

    @router.get("/probe/locked")
    async def locked() -> None:
        raise sa_exc.OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))

    return router


@pytest.fixture
async def client(tmp_path):
    platform, recorder = platform_for_tests(settings_for_tests(tmp_path, cors_allowed_origins=APP), None, {})
    app = create_profiles(platform)
    app.include_router(_failing_routes())
    async with running(app, platform, recorder):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers={"Origin": APP}) as client:
            yield client


async def test_a_bug_is_a_500_problem_the_page_can_read(client):
    response = await client.get("/probe/bug")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Internal Server Error"
    assert response.headers["access-control-allow-origin"] == APP


async def test_a_busy_database_is_a_503_with_retry_after(client):
    response = await client.get("/probe/locked")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    assert response.headers["access-control-allow-origin"] == APP
