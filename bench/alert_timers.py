"""Benchmark: complaint SLA timers of the alerts service on PostgreSQL, and many breaches at once
to one webhook receiver.

    .venv/bin/python bench/alert_timers.py [--timers 10000] [--window 60] [--lead 30] [--breaches 5000] [--rate 6000]

Every figure is printed with the load average of the moment (the machine is shared).

1. N complaints whose deadlines are spread evenly over a window of W seconds. On a loaded machine
   the arming can take longer than any lead, so the timers are armed a day ahead and, once all are
   armed, moved by one UPDATE so that the window starts L seconds later (the figure is the timers',
   not the arming's; the arming's own rate is printed too). Their timers are armed with the service's own function (`apply_sla_plan` of
   the SLA plan a complaint event makes, 1,000 per transaction), not through the consumer, so the
   figure is that of the timers. The alerts service (durable timers, alerts, outbox relay, in-process
   bus; PostgreSQL 15) raises `alert.sla_breached` for each. Lateness = the moment the event reached a subscriber of the bus
   minus its deadline: p50, p99, max; and none lost, none twice (by de-dup key).
2. B complaints breaching in the same second (armed a day ahead, then moved to 5 s ahead), one standard webhook endpoint (a local receiver on
   127.0.0.1 in this process) with `rate_per_minute` R: all B delivered, none twice, how many
   requests were in flight at once at most, the busiest second, and the time until the last.
"""

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.alerts.app import create_app  # noqa: E402
from services.alerts.rules.sla import plan_for  # noqa: E402
from services.alerts.timers import apply_sla_plan  # noqa: E402
from services.common import catalog  # noqa: E402
from services.common.delivery_tables import timers  # noqa: E402
from services.common.events import from_message  # noqa: E402
from services.common.service_app import Platform  # noqa: E402
from services.common.settings import Settings  # noqa: E402
from tests.alerts.receiver import local_receiver  # noqa: E402
from tests.support.postgres_server import PostgresServer  # noqa: E402

BATCH = 1000


def complaint(number: int, due: datetime) -> catalog.ComplaintOpened:
    now = datetime.now(UTC)
    snapshot = catalog.SlaMetricSnapshot(metric="first_response", state="running", breached=False, due_at=due,
                                         consumed_seconds=0, target_seconds=(due - now).total_seconds())
    return catalog.ComplaintOpened(customer_id=f"cust-{number}", complaint_id=f"k-{number}", status="open",
                                   priority="urgent", sla=[snapshot], changed_at=now)


class Arrivals:
    """Every alert event on the bus, with the wall-clock moment it arrived."""

    def __init__(self):
        self.events: list[tuple[float, object]] = []

    async def __call__(self, batch) -> None:
        arrived = time.time()
        self.events.extend((arrived, from_message(message)) for message in batch)

    def breaches(self) -> list[tuple[float, object]]:
        return [(arrived, event) for arrived, event in self.events if event.type == "pulse.alert.sla_breached.v1"]


async def arm(app, complaints: list) -> None:
    """What the consumer does for each complaint event, minus the bus and the inbox."""
    database = app.state.context.database
    for start in range(0, len(complaints), BATCH):
        async with database.transaction() as session:
            for payload in complaints[start:start + BATCH]:
                await apply_sla_plan(session, plan_for(customer_id=payload.customer_id, complaint_id=payload.complaint_id,
                                                       status=payload.status, priority=payload.priority, snapshots=payload.sla))


async def move_all(app, *, by: timedelta) -> None:
    """One UPDATE of the bench's own timers, committed like any arming (it wakes the timer loop)."""
    async with app.state.context.database.transaction() as session:
        await session.execute(sa.update(timers).values(due_at=timers.c.due_at - sa.literal(by, sa.Interval())))
        session.info["timers_changed"] = True


async def until(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.5)
    return check()


def load() -> str:
    return "load average " + " ".join(f"{value:.1f}" for value in os.getloadavg())


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timers_phase(database_url: str, data_dir: Path, count: int, window: float, lead: float) -> None:
    settings = Settings(database_url=database_url, data_dir=data_dir, encryption_keys=Fernet.generate_key().decode(),
                        hash_key="bench")
    platform = Platform.from_settings(settings, service_settings={"alerts_secret_keys": Fernet.generate_key().decode()})
    arrivals = Arrivals()
    platform.bus.subscribe("bench", [settings.topics.alerts], arrivals)
    app = create_app(platform)
    async with app.router.lifespan_context(app):
        far = datetime.now(UTC) + timedelta(days=1)
        deadlines = [far + timedelta(seconds=window * number / count) for number in range(count)]
        started = time.monotonic()
        await arm(app, [complaint(number, due) for number, due in enumerate(deadlines)])
        armed_in = time.monotonic() - started
        await move_all(app, by=far - (datetime.now(UTC) + timedelta(seconds=lead)))
        cpu_before = time.process_time()
        print(f"{count} timers armed in {armed_in:.1f} s ({count / armed_in:.0f}/s), then moved: the first is due in {lead:.0f} s; "
              f"{load()}", flush=True)
        await until(lambda: len(arrivals.breaches()) >= count, timeout=40 + window + 120)
        cpu = time.process_time() - cpu_before  # this process: the service and the bench's subscriber, not PostgreSQL
        await asyncio.sleep(3)  # room for a double
    breaches = arrivals.breaches()
    keys = [event.data["dedup_key"] for _, event in breaches]
    lateness = [arrived - datetime.fromisoformat(event.data["due_at"]).timestamp() for arrived, event in breaches]
    detected = [(datetime.fromisoformat(e.data["detected_at"]) - datetime.fromisoformat(e.data["due_at"])).total_seconds()
                for _, e in breaches]
    print(f"timers: {count} due within {window:.0f} s; breaches on the bus {len(breaches)}, distinct {len(set(keys))}, "
          f"lost {count - len(set(keys))}, twice {len(keys) - len(set(keys))}; {load()}")
    if lateness:
        print(f"lateness to the bus: p50 {statistics.median(lateness) * 1000:.0f} ms, p99 {quantile(lateness, 0.99) * 1000:.0f} ms, "
              f"max {max(lateness) * 1000:.0f} ms (negative: none); timer fired after its moment: "
              f"p50 {statistics.median(detected) * 1000:.0f} ms, p99 {quantile(detected, 0.99) * 1000:.0f} ms, "
              f"max {max(detected) * 1000:.0f} ms; CPU of this process from the move to the last arrival "
              f"{cpu:.1f} s ({cpu / count * 1000:.2f} ms a timer)")


async def webhook_phase(database_url: str, data_dir: Path, count: int, rate: int, args_wait: float) -> None:
    settings = Settings(database_url=database_url, data_dir=data_dir, encryption_keys=Fernet.generate_key().decode(),
                        hash_key="bench")
    platform = Platform.from_settings(settings, service_settings={"alerts_secret_keys": Fernet.generate_key().decode()})
    app = create_app(platform)
    async with local_receiver() as receiver, app.router.lifespan_context(app):
        _, key = await platform.key_store.create(name="bench", role="admin")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            answer = await client.post("/v1/webhooks", json={"url": receiver.url, "rate_per_minute": rate},
                                       headers={"Authorization": f"Bearer {key}"})
            assert answer.status_code == 201, answer.text
        far = datetime.now(UTC) + timedelta(days=1)
        await arm(app, [complaint(number, far) for number in range(count)])
        await move_all(app, by=far - (datetime.now(UTC) + timedelta(seconds=5)))
        await until(lambda: len(receiver.requests) >= count, timeout=args_wait)
        await asyncio.sleep(3)
    ids = [request.headers["webhook-id"] for request in receiver.requests]
    if not receiver.requests:
        print("webhooks: nothing arrived")
        return
    per_second: dict[int, int] = {}
    for request in receiver.requests:
        per_second[int(request.at)] = per_second.get(int(request.at), 0) + 1
    span = receiver.requests[-1].at - receiver.requests[0].at
    print(f"webhooks: {count} breaches in one second to one endpoint at {rate}/min: received {len(ids)}, distinct {len(set(ids))}, "
          f"at most {receiver.most_in_flight} in flight at once, busiest second {max(per_second.values())} requests, "
          f"from first to last {span:.1f} s ({len(ids) / max(span, 0.001):.0f}/s), pending left {count - len(set(ids))}; {load()}",
          flush=True)


async def main(args) -> None:
    server = PostgresServer()
    server.start()
    try:
        suffix = os.urandom(3).hex()
        workdir = Path(server.workdir)
        print(f"starting; {load()}", flush=True)
        if args.timers:
            await timers_phase(server.create_database(f"bench_timers_{suffix}"), workdir / "timers", args.timers, args.window,
                               args.lead)
        if args.breaches:
            await webhook_phase(server.create_database(f"bench_hooks_{suffix}"), workdir / "hooks", args.breaches, args.rate,
                                args.wait)
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timers", type=int, default=10000)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--lead", type=float, default=20.0, help="seconds from the end of arming to the first deadline")
    parser.add_argument("--breaches", type=int, default=5000)
    parser.add_argument("--rate", type=int, default=6000, help="the endpoint's rate_per_minute")
    parser.add_argument("--wait", type=float, default=600, help="seconds to wait for the receiver to get every breach")
    asyncio.run(main(parser.parse_args()))
