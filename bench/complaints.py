"""Complaints through the feedback API: transitions per second, and a new calendar version moving
every open complaint's deadlines (recomputed, stored, their events in the outbox).

Run: .venv/bin/python bench/complaints.py [--transitions 2000] [--open 100000] [--database-url URL] [--profile]

1. Complaints are opened through the API and walked acknowledge → start → wait → resume → resolve;
   the figure is API transitions per second from one client (each one a transaction with its
   history row and its event in the outbox).
2. `--open` complaints are put in the database directly (opened with the pure core over one week
   on an office calendar, as the API would have), then `PUT /v1/calendars/office` stores a new
   version; the time is from the request to its answer, when every open complaint has been
   recomputed with consumed time kept and each one whose deadlines moved has its history row and
   its complaint.updated event in the outbox (the recompute is done in the PUT's transaction).

Each figure is printed with the load average, as the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import multiprocessing
import os
import pstats
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa
from cryptography.fernet import Fernet

from services.common.clock import ManualClock
from services.common.delivery_tables import outbox
from services.common.ids import new_id
from services.common.service_app import Platform
from services.common.settings import Settings
from services.feedback.app import create_app
from services.feedback.complaints import sla_state as core
from services.feedback.models import complaints
from services.feedback.sla.policies import ComplaintAttributes
from services.feedback.sla_config import sla_context

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOUR = 3600
WORKDAYS = ("mon", "tue", "wed", "thu", "fri")
OFFICE = {"time_zone": "Asia/Shanghai", "weekly": {day: [["09:00", "12:00"], ["13:30", "18:00"]] for day in WORKDAYS}}
POLICIES = {"policies": [{"id": "standard", "position": 1, "default": True, "targets": {
    "first_response": {p: {"seconds": 4 * HOUR, "calendar": "office"} for p in ("normal", "urgent")},
    "resolution": {p: {"seconds": 5 * 7.5 * HOUR, "calendar": "office"} for p in ("normal", "urgent")}}}]}
WALK = [(":acknowledge", None), (":start", None), (":wait", {"on": "customer"}), (":resume", None), (":resolve", {"without_survey": True})]


def cpu_seconds() -> float:
    """CPU time of this process and its live worker processes: on a crowded machine the wall
    time mostly says how long the work waited for a core."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = time.process_time()
    for child in multiprocessing.active_children():
        fields = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def load() -> str:
    return " ".join(f"{figure:.1f}" for figure in os.getloadavg())


async def transitions_per_second(client: httpx.AsyncClient, auth: dict, clock: ManualClock, count: int) -> float:
    ids = []
    for _ in range(count // len(WALK)):
        ids.append((await client.post("/v1/complaints", json={"customer_id": f"bench-{new_id()}"}, headers=auth)).json()["id"])
    started = time.perf_counter()
    for complaint_id in ids:
        for suffix, body in WALK:
            clock.advance(60)
            response = await client.post(f"/v1/complaints/{complaint_id}{suffix}", json=body, headers=auth)
            assert response.status_code == 200, response.text
    return len(ids) * len(WALK) / (time.perf_counter() - started)


async def seed_open_complaints(app, clock: ManualClock, count: int) -> None:
    """Open complaints as the API would store them, without their history, over the week before now."""
    context = app.state.context
    database = context.database
    async with database.sessions() as session:
        sla_ctx = await sla_context(session, context)
    now = clock.now()
    rows = []
    for n in range(count):
        opened_at = now - timedelta(seconds=(n * 7919) % (7 * 24 * HOUR))
        complaint_id = new_id()
        sla = core.open_complaint(core.ComplaintOpened(new_id(), opened_at, complaint_id, ComplaintAttributes("normal")), sla_ctx)
        sla = core.observe(sla, now)
        dues = [c.due_at for c in sla.clocks if c.state == "running" and not c.breached]
        rows.append(dict(id=complaint_id, customer_id=f"bench-{n}", status="open", priority="normal", category=None, channel=None,
                         assignee=None, description_text=None, linked_to=None, sla=sla.to_dict(), breached=any(c.breached for c in sla.clocks),
                         next_due_at=min(dues, default=None), without_survey=False, version=1, created_at=opened_at, updated_at=opened_at))
        if len(rows) == 5000:
            async with database.transaction() as session:
                await session.execute(sa.insert(complaints), rows)
            rows = []
    if rows:
        async with database.transaction() as session:
            await session.execute(sa.insert(complaints), rows)


async def main(args) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-complaints-"))
    settings = Settings(data_dir=folder, database_url=args.database_url, encryption_keys=Fernet.generate_key().decode(), hash_key="bench",
                        outbox_poll_seconds=3600)  # the relay stays idle: the figure is the time to the outbox
    clock = ManualClock(datetime(2026, 7, 1, 9, tzinfo=SHANGHAI))
    platform = Platform.from_settings(settings, clock=clock)
    app = create_app(platform)
    async with app.router.lifespan_context(app):
        _, key = await platform.key_store.create(name="bench", role="admin")
        auth = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=600) as client:
            assert (await client.put("/v1/calendars/office", json=OFFICE, headers=auth)).status_code == 200
            assert (await client.put("/v1/sla-policies", json=POLICIES, headers=auth)).status_code == 200
            rate = await transitions_per_second(client, auth, clock, args.transitions)
            print(f"API transitions per second (one client, {args.transitions} transitions): {rate:,.0f}  (load {load()})")
            started = time.perf_counter()
            await seed_open_complaints(app, clock, args.open)
            print(f"seeded {args.open:,} open complaints in {time.perf_counter() - started:.1f} s")
            clock.advance(HOUR)
            async with app.state.database.sessions() as session:
                before = await session.scalar(sa.select(sa.func.count()).select_from(outbox))
            closed_day = {**OFFICE, "exceptions": [{"date": "2026-07-03", "hours": []}]}
            profiler = cProfile.Profile() if args.profile else None
            started, cpu_started = time.perf_counter(), cpu_seconds()
            if profiler:
                profiler.enable()
            response = await client.put("/v1/calendars/office", json=closed_day, headers=auth)
            if profiler:
                profiler.disable()
            elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
            assert response.status_code == 200, response.text
            async with app.state.database.sessions() as session:
                events = await session.scalar(sa.select(sa.func.count()).select_from(outbox)) - before
            print(f"PUT calendar → {args.open:,} open complaints recomputed, {response.json()['recomputed_complaints']:,} with moved deadlines, "
                  f"{events:,} events in the outbox: {elapsed:.2f} s (target < 10 s); CPU {cpu:.1f} s in this process and its workers  (load {load()})")
            if profiler:
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(30)
    await platform.key_store.database.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transitions", type=int, default=2000)
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true", help="cProfile the PUT (its figures then include the profiler's cost); top functions to stderr")
    parser.add_argument("--database-url", default="", help="e.g. postgresql+asyncpg://…; default SQLite in a temporary folder")
    asyncio.run(main(parser.parse_args()))
