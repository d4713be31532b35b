"""Ingest benchmark: purchases per second through the batch API until all are on Kafka, beside the
rate at which aiokafka alone produces the same events to the same broker (the ratio is the figure),
and the latency of single writes at a fixed request rate, open loop; profiles runs as its own
process on PostgreSQL and Kafka, as in the distributed mode.

    make bench-tools   # once: builds vegeta into ~/.cache/customer-pulse/bin
    flock /tmp/pulse-kafka.lock .venv/bin/python bench/ingest.py [--batches 20] [--rate 300] [--seconds 15] [--workers 1] [--relay process]

Starts a throw-away PostgreSQL and Kafka broker unless PULSE_TEST_POSTGRES_URL and
PULSE_KAFKA_BOOTSTRAP name running ones. Single writes are sent by vegeta (Go), which costs the
shared cores little; without it the benchmark refuses to run, since a Python client would take the
cores of the service it measures. Prints one JSON document with the figures and the load average.
"""

import argparse
import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.raw_kafka import create_topic, produce  # noqa: E402
from services.common.catalog import PurchaseRecorded  # noqa: E402
from services.common.events import envelope_for, to_message  # noqa: E402
from services.common.ids import new_id  # noqa: E402
from tests.integration.service_process import ServiceProcess  # noqa: E402
from tests.support.kafka_broker import KafkaBroker  # noqa: E402
from tests.support.postgres_server import PostgresServer  # noqa: E402

BATCH_SIZE = 5000
TOOLS = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "customer-pulse" / "bin"


def purchase(customer_id: str, order_id: str) -> dict:
    return {"order_id": order_id, "customer_id": customer_id, "amount": "59.90", "occurred_at": "2026-09-01T12:00:00+08:00"}


async def count_on_kafka(bootstrap: str, topic: str, expected: int, timeout: float) -> float | None:
    """Seconds until `expected` messages are on the topic (counted from its start), or None."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"bench-{os.urandom(4).hex()}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen, started = 0, time.perf_counter()
    try:
        while seen < expected and time.perf_counter() - started < timeout:
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            seen += sum(len(records) for records in batches.values())
    finally:
        await consumer.stop()
    return time.perf_counter() - started if seen >= expected else None


async def post_batches(client: httpx.AsyncClient, customers: list[str], label: str, batches: int) -> None:
    """Two clients in parallel, each posting full batches."""
    queue = list(range(batches))

    async def worker() -> None:
        while queue:
            number = queue.pop()
            items = [purchase(customers[i % len(customers)], f"{label}-{number}-{i}") for i in range(BATCH_SIZE)]
            response = await client.post("/v1/purchases:batch", json={"items": items}, timeout=600)
            assert response.status_code == 200 and response.json()["created"] == BATCH_SIZE, response.text[:500]

    await asyncio.gather(worker(), worker())


async def outbox_drained(client: httpx.AsyncClient, timeout: float = 300) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        metrics = (await client.get("/metrics")).text
        if 'pulse_outbox_backlog{service="profiles"} 0.0' in metrics:
            return
        await asyncio.sleep(0.5)
    raise TimeoutError("the outbox did not drain")


async def batch_throughput(client: httpx.AsyncClient, customers: list[str], batches: int, bootstrap: str, topic: str,
                           already_on_topic: int) -> dict:
    total = batches * BATCH_SIZE
    counter = asyncio.create_task(count_on_kafka(bootstrap, topic, already_on_topic + total, timeout=600))
    await asyncio.sleep(3)  # let the counting consumer join before the clock starts
    started = time.perf_counter()
    await post_batches(client, customers, "measured", batches)
    acknowledged_seconds = time.perf_counter() - started
    on_kafka_since_counter = await counter
    on_kafka_seconds = (on_kafka_since_counter - 3) if on_kafka_since_counter else None
    return {
        "purchases": total,
        "acknowledged_per_second": round(total / acknowledged_seconds),
        "acknowledged_and_on_kafka_per_second": round(total / on_kafka_seconds) if on_kafka_seconds else None,
    }


def vegeta_binary() -> str:
    """The load generator built by `make bench-tools`, or one on PATH; never a Python client."""
    built = TOOLS / "vegeta"
    found = str(built) if built.exists() else shutil.which("vegeta")
    if not found:
        raise SystemExit(f"vegeta is missing (looked in {TOOLS} and on PATH): run `make bench-tools`")
    return found


def cpu_seconds(root: int) -> dict[str, float]:
    """CPU time so far of the service's processes, user and system apart: its relay process, and the
    rest (the API). A phase's difference, per purchase or request, is the figure to judge a change by
    on a shared machine, where wall time says as much about the neighbours."""
    parents, commands, times = {}, {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            commands[stat.parent.name] = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        parents[stat.parent.name] = fields[1]
        times[stat.parent.name] = (int(fields[11]), int(fields[12]))
    tree = {str(root)}
    while grown := {pid for pid, parent in parents.items() if parent in tree} - tree:
        tree |= grown
    totals = dict.fromkeys(("api_user", "api_system", "relay_user", "relay_system"), 0.0)
    for pid in tree & times.keys():
        kind = "relay" if b"relay_process" in commands[pid] else "api"
        totals[f"{kind}_user"] += times[pid][0] / os.sysconf("SC_CLK_TCK")
        totals[f"{kind}_system"] += times[pid][1] / os.sysconf("SC_CLK_TCK")
    return totals


def cpu_per(before: dict[str, float], after: dict[str, float], count: int, unit: float) -> dict[str, float]:
    return {kind: round((after[kind] - before[kind]) / count * unit, 2) for kind in before}


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def single_write_latency_vegeta(vegeta: str, url: str, key: str, customers: list[str], rate: int, seconds: int,
                                label: str = "single") -> dict:
    """vegeta (Go) sends at a constant rate and costs the shared cores far less than a Python client."""
    headers = {"Authorization": [f"Bearer {key}"], "Content-Type": ["application/json"]}
    lines = []
    for number in range(rate * (seconds + 1)):  # vegeta asks for one more than it sends
        body = json.dumps(purchase(customers[number % len(customers)], f"{label}-{number}")).encode()
        lines.append(json.dumps({"method": "POST", "url": f"{url}/v1/purchases", "header": headers,
                                 "body": base64.b64encode(body).decode()}))
    attack = subprocess.run([vegeta, "attack", "-format=json", "-lazy", f"-rate={rate}/s", f"-duration={seconds}s"],
                            input="\n".join(lines).encode(), capture_output=True, check=True)
    report = json.loads(subprocess.run([vegeta, "report", "-type=json"], input=attack.stdout, capture_output=True, check=True).stdout)
    latencies = report["latencies"]
    return {
        "client": "vegeta", "requests": report["requests"], "rate_per_second": rate,
        "failures": sum(count for code, count in report["status_codes"].items() if code != "201"),
        "p50_ms": round(latencies["50th"] / 1e6, 2), "p99_ms": round(latencies["99th"] / 1e6, 2),
        "max_ms": round(latencies["max"] / 1e6, 2), "status_codes": report["status_codes"],
        "errors": report.get("errors") or [],
    }


def raw_messages(customers: list[str], count: int, topic: str) -> list:
    """The events the relay sends for `count` purchases: same payload, headers, keys and size."""
    messages = []
    for number in range(count):
        payload = PurchaseRecorded(customer_id=customers[number % len(customers)], purchase_id=new_id(),
                                   order_id=f"raw-{number // BATCH_SIZE}-{number % BATCH_SIZE}", amount="59.90",
                                   currency="CNY", occurred_at="2026-09-01T12:00:00+08:00")
        messages.append(to_message(envelope_for(payload, source="/pulse/profiles"), topic))
    return messages


async def raw_aiokafka_rate(bootstrap: str, customers: list[str], count: int, topic: str) -> dict:
    """aiokafka alone, idempotent with acks=all as the platform's producer, on a topic of 12 partitions."""
    await create_topic(bootstrap, topic)
    messages = raw_messages(customers, count, topic)
    seconds = await produce(bootstrap, messages, enable_idempotence=True, acks="all")
    return {"events": count, "events_per_second": round(count / seconds), "load_average": load_average()}


async def run(arguments, postgres_url: str, bootstrap: str, folder: Path) -> dict:
    suffix = os.urandom(3).hex()
    start_load = load_average()
    topic = f"bench-{suffix}.purchases"
    env = {
        "PULSE_BUS": "kafka", "PULSE_KAFKA_BOOTSTRAP": bootstrap, "PULSE_DATABASE_URL": postgres_url,
        "PULSE_AUTH_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'auth.db'}", "PULSE_DATA_DIR": str(folder),
        "PULSE_ENCRYPTION_KEYS": Fernet.generate_key().decode(), "PULSE_HASH_KEY": "bench", "PULSE_LOG_LEVEL": "WARNING", "PULSE_WORKERS": str(arguments.workers),
        "PULSE_OUTBOX_RELAY": arguments.relay,
        "PULSE_TOPIC_PURCHASES": topic, "PULSE_TOPIC_CUSTOMERS": f"bench-{suffix}.customers",
    }
    vegeta = vegeta_binary()
    service = ServiceProcess("profiles", env, folder / "profiles.log")
    key = service.cli("keys", "create", "--role", "service", "--name", "bench")
    service.start()
    try:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(base_url=service.url, headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=30) as client:
            items = [{"external_id": f"bench-{n}", "name": f"客户{n}"} for n in range(1000)]
            created = (await client.post("/v1/customers:batch", json={"items": items}, timeout=600)).json()
            customers = [result["id"] for result in created["results"]]
            await post_batches(client, customers, "warm-up", 2)
            await outbox_drained(client)
            # The same rate for a few seconds first, so that the connection pools have grown.
            warm_up = (await asyncio.to_thread(single_write_latency_vegeta, vegeta, service.url, key, customers,
                                               arguments.rate, 5, "warm-up-single"))["status_codes"].get("201", 0)
            cpu = cpu_seconds(service.process.pid)
            single = await asyncio.to_thread(single_write_latency_vegeta, vegeta, service.url, key, customers,
                                             arguments.rate, arguments.seconds)
            single["load_average"] = load_average()
            single["cpu_ms_per_request"] = cpu_per(cpu, cpu_seconds(service.process.pid), single["requests"], 1e3)
            await outbox_drained(client)
            total = arguments.batches * BATCH_SIZE
            raw = await raw_aiokafka_rate(bootstrap, customers, total, f"bench-{suffix}.raw")
            already_on_topic = 2 * BATCH_SIZE + warm_up + single["requests"] - single["failures"]
            cpu = cpu_seconds(service.process.pid)
            batch = await batch_throughput(client, customers, arguments.batches, bootstrap, topic, already_on_topic=already_on_topic)
            batch["load_average"] = load_average()
            batch["cpu_us_per_purchase"] = cpu_per(cpu, cpu_seconds(service.process.pid), total, 1e6)
    finally:
        service.stop()
    on_kafka = batch["acknowledged_and_on_kafka_per_second"]
    return {
        "aiokafka_alone": raw, "batch": batch, "single_writes": single,
        "ratio_acknowledged_to_aiokafka": round(batch["acknowledged_per_second"] / raw["events_per_second"], 3),
        "ratio_on_kafka_to_aiokafka": round(on_kafka / raw["events_per_second"], 3) if on_kafka else None,
        "workers": arguments.workers, "relay": arguments.relay, "load_average_at_start": start_load,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--rate", type=int, default=300)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=1, help="processes of the profiles service (PULSE_WORKERS)")
    parser.add_argument("--relay", choices=["process", "inline"], default="process", help="PULSE_OUTBOX_RELAY")
    arguments = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="pulse-bench-"))
    broker = postgres = None
    try:
        bootstrap = os.environ.get("PULSE_KAFKA_BOOTSTRAP")
        if not bootstrap:
            broker = KafkaBroker(folder / "kafka")
            broker.start()
            bootstrap = broker.bootstrap
        if os.environ.get("PULSE_TEST_POSTGRES_URL"):
            base = os.environ["PULSE_TEST_POSTGRES_URL"].rstrip("/").replace("postgresql://", "postgresql+asyncpg://", 1)
            postgres_url = f"{base}/pulse_profiles"
        else:
            postgres = PostgresServer(folder / "postgres")
            postgres.start()
            postgres_url = postgres.create_database("bench_profiles")
        figures = asyncio.run(run(arguments, postgres_url, bootstrap, folder))
        print(json.dumps(figures, indent=2))
    finally:
        if broker:
            broker.stop()
        if postgres:
            postgres.stop()


if __name__ == "__main__":
    main()
