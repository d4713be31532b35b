"""The feedback service on SQLite and PostgreSQL, with a clock the tests move."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.harness import ManualClock, feedback_service, settings_for_tests

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI))  # a Monday


@pytest.fixture
async def feedback(tmp_path, database_url, clock):
    async with feedback_service(settings_for_tests(tmp_path, database_url=database_url), clock=clock) as harness:
        yield harness
