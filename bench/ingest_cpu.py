"""CPU time of the profiles API per purchase (batch) and per single write, in process: the app on
PostgreSQL behind httpx's ASGI transport, the relay left to another process (not run here), so that
`time.process_time()` counts the API's work (and the client's, which is small beside it). On a
shared machine this says more about a change than wall time; `--profile` prints cProfile's top.

    .venv/bin/python bench/ingest_cpu.py [--batches 3] [--singles 500] [--profile]

Starts a throw-away PostgreSQL unless PULSE_TEST_POSTGRES_URL names a running server.
"""

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.harness import service_harness, settings_for_tests  # noqa: E402
from tests.support.postgres_server import PostgresServer  # noqa: E402

BATCH_SIZE = 5000


def purchase(customer_id: str, order_id: str) -> dict:
    return {"order_id": order_id, "customer_id": customer_id, "amount": "59.90", "occurred_at": "2026-09-01T12:00:00+08:00"}


async def measure(arguments, database_url: str, folder: Path) -> None:
    settings = settings_for_tests(folder, database_url=database_url, outbox_relay="process")
    async with service_harness("profiles", settings) as harness:
        client, headers, label = harness.client, harness.auth(), os.urandom(3).hex()
        items = [{"external_id": f"cpu-{label}-{n}", "name": "x"} for n in range(1000)]
        customers = [result["id"] for result in (await client.post("/v1/customers:batch", json={"items": items}, headers=headers)).json()["results"]]

        async def batches(phase: str, count: int) -> None:
            for number in range(count):
                body = {"items": [purchase(customers[i % 1000], f"{label}-{phase}-{number}-{i}") for i in range(BATCH_SIZE)]}
                response = await client.post("/v1/purchases:batch", json=body, headers=headers)
                assert response.status_code == 200 and response.json()["created"] == BATCH_SIZE, response.text[:300]

        async def singles(phase: str, count: int) -> None:
            for number in range(count):
                response = await client.post("/v1/purchases", json=purchase(customers[number % 1000], f"{label}-{phase}-{number}"), headers=headers)
                assert response.status_code == 201, response.text

        await batches("warm-up", 1)
        await singles("warm-up", 50)
        for name, work, count, unit, scale in (("batch", batches, arguments.batches, "µs per purchase", 1e6 / BATCH_SIZE),
                                               ("single", singles, arguments.singles, "ms per request", 1e3)):
            profiler = cProfile.Profile() if arguments.profile else None
            started = time.process_time()
            if profiler:
                profiler.enable()
            await work(name, count)
            if profiler:
                profiler.disable()
            cpu = (time.process_time() - started) / count * scale
            print(f"{name}: {cpu:.1f} {unit} of CPU{' (under cProfile)' if profiler else ''}, load average {os.getloadavg()}")
            if profiler:
                pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--singles", type=int, default=500)
    parser.add_argument("--profile", action="store_true")
    arguments = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="pulse-cpu-"))
    if os.environ.get("PULSE_TEST_POSTGRES_URL"):
        base = os.environ["PULSE_TEST_POSTGRES_URL"].rstrip("/").replace("postgresql://", "postgresql+asyncpg://", 1)
        asyncio.run(measure(arguments, f"{base}/pulse_profiles", folder))
        return
    with PostgresServer(folder / "postgres") as postgres:
        asyncio.run(measure(arguments, postgres.create_database("cpu_profiles"), folder))


if __name__ == "__main__":
    main()
