"""The feedback service on SQLite and PostgreSQL, with a clock the tests move."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from services.common.clock import ManualClock
from tests.harness import service_harness, settings_for_tests

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI))  # a Monday


@pytest.fixture
async def feedback(tmp_path, database_url, clock):
    async with service_harness("feedback", settings_for_tests(tmp_path, database_url=database_url), clock=clock) as harness:
        yield harness
