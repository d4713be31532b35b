"""Background jobs: a schedule on the leader only, runs on demand that never overlap, clean stop."""

import asyncio

import pytest

from services.common.database import COMMON_MIGRATIONS, Database
from services.common.jobs import JobRunner, JobSpec


class Counting:
    def __init__(self, hold_seconds: float = 0.0):
        self.runs = 0
        self.hold_seconds = hold_seconds
        self.contexts = []

    async def __call__(self, context) -> None:
        self.runs += 1
        self.contexts.append(context)
        await asyncio.sleep(self.hold_seconds)


async def wait_for(check, timeout: float = 10.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if check():
            return True
        await asyncio.sleep(0.02)
    return check()


@pytest.fixture
async def database(backend, database_url, tmp_path):
    database = Database(database_url or f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}", migrations=[COMMON_MIGRATIONS / "versions"])
    await database.migrate()
    yield database
    await database.dispose()


async def test_a_scheduled_job_runs_every_period_with_the_service_context(database):
    job = Counting()
    runner = JobRunner(service="svc", database=database, jobs=[JobSpec("purge", every_seconds=0.05, run=job)])
    runner.bind("the context")
    runner.start()
    try:
        assert await wait_for(lambda: job.runs >= 3)
    finally:
        await runner.stop()
    assert set(job.contexts) == {"the context"}
    runs_at_stop = job.runs
    await asyncio.sleep(0.2)
    assert job.runs == runs_at_stop, "a stopped runner still ran the job"


async def test_trigger_runs_a_job_now_instead_of_at_its_next_period(database):
    job = Counting()
    runner = JobRunner(service="svc", database=database, jobs=[JobSpec("refit", every_seconds=3600, run=job)])
    runner.start()
    try:
        await asyncio.sleep(0.1)
        assert job.runs == 0
        runner.trigger("refit")
        assert await wait_for(lambda: job.runs == 1)
    finally:
        await runner.stop()


async def test_two_runs_of_one_job_never_overlap(database):
    job = Counting(hold_seconds=0.3)
    runner = JobRunner(service="svc", database=database, jobs=[JobSpec("refit", every_seconds=3600, run=job)])
    first = asyncio.create_task(runner.run_now("refit"))
    await asyncio.sleep(0.05)
    assert await runner.run_now("refit") is False
    assert await first is True
    assert job.runs == 1
    assert await runner.run_now("refit") is True


@pytest.mark.postgres
async def test_on_postgresql_only_the_leader_runs_the_schedule_and_a_standby_takes_over(postgres_server):
    url = postgres_server.create_database(f"jobs_{id(object()):x}")
    databases = [Database(url, migrations=[COMMON_MIGRATIONS / "versions"]) for _ in range(2)]
    await databases[0].migrate()
    jobs = [Counting(), Counting()]
    runners = [JobRunner(service="svc", database=database, jobs=[JobSpec("purge", every_seconds=0.05, run=job)], retry_seconds=0.1)
               for database, job in zip(databases, jobs)]
    try:
        runners[0].start()
        assert await wait_for(lambda: jobs[0].runs >= 2)
        runners[1].start()
        await asyncio.sleep(0.5)
        assert jobs[1].runs == 0, "a standby ran the leader's schedule"
        assert runners[0].is_leader and not runners[1].is_leader

        await runners[0].stop()  # the leader goes away; its lock goes with its connection
        assert await wait_for(lambda: jobs[1].runs >= 2)
        assert runners[1].is_leader
    finally:
        for runner in runners:
            await runner.stop()
        for database in databases:
            await database.dispose()
