"""A clock the tests move wakes the timer loop; CPU-heavy work runs in another process, which ends with its service."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.common.clock import ManualClock
from services.common.database import COMMON_MIGRATIONS, Database
from services.common.observability import ServiceMetrics
from services.common.offload import Offloader
from services.common.timers import TimerService, schedule_timer

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_manual_clock_moves_only_forward_and_tells_its_listeners():
    clock = ManualClock(START)
    moves = []
    clock.on_move(lambda: moves.append(clock.now()))
    assert clock.now() == START
    clock.advance(timedelta(hours=1))
    clock.advance(30)
    assert moves == [START + timedelta(hours=1), START + timedelta(hours=1, seconds=30)]
    with pytest.raises(ValueError):
        clock.set(START)


async def test_the_timer_loop_fires_when_the_clock_is_moved_past_a_due_time(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'clock.db'}", migrations=[COMMON_MIGRATIONS / "versions"])
    await database.migrate()
    clock = ManualClock(START)
    fired = []

    async def on_due(delivery):
        fired.append((delivery.timer.key, delivery.timer.fired_at, delivery.context))

    service = TimerService(database=database, handlers={"churn": on_due}, metrics=ServiceMetrics("t"), clock=clock, context="ctx")
    async with database.transaction() as session:
        await schedule_timer(session, kind="churn", key="c-1", due_at=START + timedelta(days=30), payload={})
    loop = asyncio.create_task(service.run())
    try:
        await asyncio.sleep(0.3)
        assert fired == [], "fired before its time"
        clock.advance(timedelta(days=30))
        for _ in range(50):
            if fired:
                break
            await asyncio.sleep(0.02)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        await database.dispose()
    assert fired == [("c-1", START + timedelta(days=30), "ctx")]


def _pid_and_square(value: int) -> tuple[int, int]:
    return os.getpid(), value * value


async def test_offloaded_work_runs_in_another_process():
    offload = Offloader()
    try:
        pid, square = await offload.run(_pid_and_square, 12)
    finally:
        offload.close()
    assert square == 144
    assert pid != os.getpid()


# A service whose offload worker has started, printing the worker's pid, then waiting to be killed.
SERVICE_WITH_A_WORKER = """
import asyncio, os
from services.common.offload import Offloader

async def main():
    print(await Offloader().run(os.getpid), flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def test_an_offload_worker_dies_with_its_service_even_one_killed_with_kill_9():
    service = subprocess.Popen([sys.executable, "-c", SERVICE_WITH_A_WORKER], stdout=subprocess.PIPE, text=True,
                               cwd=Path(__file__).resolve().parents[2])
    try:
        worker = int(service.stdout.readline())
        assert Path(f"/proc/{worker}").exists()
    finally:
        service.send_signal(signal.SIGKILL)
        service.wait(10)
    for _ in range(100):  # bounded: 10 s
        if not Path(f"/proc/{worker}").exists() or "zombie" in Path(f"/proc/{worker}/status").read_text():
            return
        time.sleep(0.1)
    os.kill(worker, signal.SIGKILL)
    raise AssertionError(f"the offload worker {worker} outlived its service")


def test_a_helper_whose_parent_is_already_gone_ends_itself():
    # The kernel's death signal covers a parent that dies later, not one that died while the helper
    # was starting; then the helper's parent is no longer the pid it was given.
    check = "import os, sys; from services.common.shutdown import die_with_parent; die_with_parent(int(sys.argv[1])); print('alive')"
    root = Path(__file__).resolve().parents[2]
    kept = subprocess.run([sys.executable, "-c", check, str(os.getpid())], cwd=root, capture_output=True, text=True, timeout=30)
    orphaned = subprocess.run([sys.executable, "-c", check, str(os.getpid() + 1)], cwd=root, capture_output=True, text=True, timeout=30)
    assert (kept.returncode, kept.stdout.strip()) == (0, "alive")
    assert (orphaned.returncode, orphaned.stdout.strip()) == (1, "")
