"""Scoring benchmark: events applied per second by one scoring instance on Kafka and PostgreSQL,
beside the rate at which aiokafka alone reads the same messages (the ratio is the figure), then a
refit with the bulk re-score of every customer, and the process's resident memory.

Progress is read from the consumer's own counter (free), not by asking the API every few hundred
milliseconds, which in this process cost about a third of what the consumer spent (py-spy); `/v1/stats`
confirms the total at the end. Beside the wall-clock rate it prints the CPU seconds this process
and (when the benchmark started it) the PostgreSQL server spent while the events were applied:
the machine is shared, and CPU per event moves less with the load than the rate does.

    flock /tmp/pulse-kafka.lock .venv/bin/python bench/scoring_consume.py [--customers 2000] [--purchases 10]

Starts a throw-away PostgreSQL and Kafka broker unless PULSE_TEST_POSTGRES_URL and
PULSE_KAFKA_BOOTSTRAP name running ones. The service runs in this process (its app and lifespan,
as `pulse serve scoring` runs them). Prints one JSON document with the figures.
"""

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.raw_kafka import produce, raw_read_seconds  # noqa: E402
from services.common.catalog import PurchaseRecorded  # noqa: E402
from services.common.events import envelope_for, to_message  # noqa: E402
from tests.conftest import ExternalPostgres  # noqa: E402
from tests.harness import service_harness, settings_for_tests  # noqa: E402
from tests.support.kafka_broker import KafkaBroker  # noqa: E402
from tests.support.postgres_server import PostgresServer  # noqa: E402

TOPIC = "pulse.purchases"
NOW = datetime(2026, 9, 1, tzinfo=UTC)


def purchase_messages(customers: int, per_customer: int) -> list:
    messages = []
    for customer in range(customers):
        for number in range(per_customer):
            payload = PurchaseRecorded(
                customer_id=f"bench-{customer:07d}", purchase_id=f"p-{customer}-{number}", order_id=f"o-{customer}-{number}",
                amount=f"{10 + (customer * 7 + number * 13) % 90}.00", currency="CNY",
                occurred_at=NOW - timedelta(days=(customer + number * 37) % 700),
            )
            messages.append(to_message(envelope_for(payload, source="/pulse/bench"), TOPIC))
    return messages


async def applied(scoring) -> int:
    return (await scoring.client.get("/v1/stats", headers=scoring.auth())).json()["events_applied"]


def finished(scoring) -> int:
    """Events the consumer committed so far (applied or dropped as repeats), from its counter."""
    registry = scoring.context.metrics.registry
    return sum(int(registry.get_sample_value("pulse_events_consumed_total", {
        "service": "scoring", "consumer": "scoring", "topic": TOPIC, "outcome": outcome}) or 0)
        for outcome in ("processed", "duplicate"))


def server_cpu_seconds(postgres: PostgresServer | None) -> float | None:
    """User and system CPU of the server's processes (postmaster and its children), from /proc."""
    if postgres is None:
        return None
    master = (postgres.workdir / "pgdata" / "postmaster.pid").read_text().split()[0]
    ticks = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if master in (pid, fields[1]):
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def memory_mb(field: str) -> int:
    """A line of /proc/self/status, e.g. VmRSS (now) or VmHWM (peak), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024)
    raise LookupError(field)


def per_event_ms(seconds: float | None, events: int) -> float | None:
    return None if seconds is None else round(1000 * seconds / events, 4)


def refit_outcome(answer) -> str:
    body = answer.json()
    if answer.status_code != 200:
        return f"{answer.status_code} {body.get('title')}: {body.get('detail')}"
    return (body.get("in_use") or {}).get("status", "priors (no calibration in use)")


async def run(arguments, database_url: str, bootstrap: str, folder: Path, postgres: PostgresServer | None) -> dict:
    messages = purchase_messages(arguments.customers, arguments.purchases)
    await produce(bootstrap, messages)
    raw = await raw_read_seconds(bootstrap, len(messages))
    # The producing and the raw read above are the benchmark's, not scoring's: the peak is reset here
    # (Linux: "5" to clear_refs resets VmHWM), so the peak below is the one reached while scoring ran.
    rss_before_scoring = memory_mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    settings = settings_for_tests(folder / "scoring", bus="kafka", kafka_bootstrap=bootstrap, database_url=database_url)
    async with service_harness("scoring", settings, scoring_min_population=200) as scoring:
        # Timed from the first batch committed: joining the consumer group is not consuming.
        while finished(scoring) == 0:
            await asyncio.sleep(0.005)
        started, first = time.perf_counter(), finished(scoring)
        cpu, server_cpu = time.process_time(), server_cpu_seconds(postgres)
        while finished(scoring) < len(messages):
            await asyncio.sleep(0.02)
        consumed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        server_cpu = None if postgres is None else server_cpu_seconds(postgres) - server_cpu
        stats_applied = await applied(scoring)
        refit_started = time.perf_counter()
        refit = await scoring.client.post("/v1/models/clv:refit", json={"as_of": NOW.isoformat()}, headers=scoring.auth())
        refit_seconds = time.perf_counter() - refit_started
    timed = len(messages) - first
    rate, raw_rate = timed / consumed, len(messages) / raw
    return {
        "events": len(messages), "customers": arguments.customers, "events_applied_by_stats": stats_applied,
        "scoring_seconds": round(consumed, 2), "scoring_events_per_second": round(rate),
        "events_timed": timed, "process_cpu_ms_per_event": per_event_ms(cpu, timed),
        "postgres_cpu_ms_per_event": per_event_ms(server_cpu, timed),
        "aiokafka_read_seconds": round(raw, 2), "aiokafka_events_per_second": round(raw_rate),
        "ratio": round(rate / raw_rate, 4),
        "refit_and_rescore_seconds": round(refit_seconds, 2), "refit_answer": refit_outcome(refit),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rss_mb_before_scoring": rss_before_scoring, "peak_rss_mb_while_scoring": memory_mb("VmHWM"),
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--purchases", type=int, default=10, help="purchases per customer")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scoring-bench-") as name:
        folder = Path(name)
        broker = postgres = None
        try:
            bootstrap = os.environ.get("PULSE_KAFKA_BOOTSTRAP")
            if not bootstrap:
                broker = KafkaBroker(folder / "kafka")
                broker.start()
                bootstrap = broker.bootstrap
            if os.environ.get("PULSE_TEST_POSTGRES_URL"):
                database_url = ExternalPostgres(os.environ["PULSE_TEST_POSTGRES_URL"]).create_database(f"bench_{os.urandom(4).hex()}")
            else:
                postgres = PostgresServer(folder / "postgres")
                postgres.start()
                database_url = postgres.create_database("bench_scoring")
            print(json.dumps(asyncio.run(run(arguments, database_url, bootstrap, folder, postgres)), indent=2))
        finally:
            if broker:
                broker.stop()
            if postgres:
                postgres.stop()


if __name__ == "__main__":
    main()
