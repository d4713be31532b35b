"""CPU time per customer of `POST /v1/customers:batch` as `make demo` sends it: the embedded stack
in process on SQLite (all four services, one in-process bus), each batch timed from the request
until scoring has learned every customer of it, so that the events' consumers count too.
`time.process_time()` counts the stack's work and the small client's.

A/B in one run, batches alternating: "set" is the endpoint as it is, "per item" decides every
item in its own savepoint (`upsert_each`, the path before the set-based one and its fallback).

    .venv/bin/python bench/customers_cpu.py [--batches 4] [--size 500] [--profile]
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

import sqlalchemy as sa  # noqa: E402

from services.profiles import customers  # noqa: E402
from tests.harness import embedded_harness, settings_for_tests  # noqa: E402

SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳"]


def customer(label: str, n: int) -> dict:
    """Like the demo shop's customers: Chinese name and address, phone, email, tags, attributes, consent."""
    return {
        "external_id": f"{label}-{n}", "name": f"{SURNAMES[n % 10]}{GIVEN[n // 10 % 10]}{GIVEN[n // 100 % 10]}",
        "phone": f"+86139{n % 100_000_000:08d}", "email": f"c{label}{n}@example.com",
        "address": f"上海市浦东新区世纪大道{n % 999}号", "tags": ["demo", "loyal"], "attributes": {"city": "上海", "segment": "loyal"},
        "consent": {"sms": True, "email_marketing": n % 3 != 0},
    }


def per_item(session, ctx, items):
    return customers.upsert_each(session, ctx, [customers.validated_upsert(item) for item in items])


async def scoring_knows(stack, count: int) -> None:
    while True:
        async with stack["scoring"].database.sessions() as session:
            if await session.scalar(sa.text("SELECT count(*) FROM scoring_customers")) >= count:
                return
        await asyncio.sleep(0.02)


async def measure(arguments, folder: Path) -> None:
    settings = settings_for_tests(folder)
    set_based = customers.upsert_customers
    async with embedded_harness(settings) as stack:
        client, headers, label = stack["profiles"].client, stack["profiles"].auth(), os.urandom(3).hex()
        cpu = {"set": 0.0, "per item": 0.0}
        request_cpu = {"set": 0.0, "per item": 0.0}
        sent = 0
        profiler = cProfile.Profile() if arguments.profile else None
        for number in range(2 * arguments.batches + 2):
            path = ("set", "per item")[number % 2]
            customers.upsert_customers = set_based if path == "set" else per_item
            items = [customer(label, sent + n) for n in range(arguments.size)]
            started = time.process_time()
            if profiler and path == "set" and number >= 2:
                profiler.enable()
            response = await client.post("/v1/customers:batch", json={"items": items}, headers=headers)
            assert response.status_code == 200 and response.json()["created"] == arguments.size, response.text[:300]
            answered = time.process_time()
            sent += arguments.size
            await scoring_knows(stack, sent)
            if profiler:
                profiler.disable()
            if number >= 2:  # the first two warm up
                cpu[path] += time.process_time() - started
                request_cpu[path] += answered - started
        customers.upsert_customers = set_based
        async with stack["scoring"].database.sessions() as session:
            undated = await session.scalar(sa.text("SELECT count(*) FROM scoring_customers WHERE created_at IS NULL"))
        assert undated == 0, f"{undated} customers in scoring without their creation time"
    count = arguments.batches * arguments.size
    before, after = cpu["per item"] * 1e3 / count, cpu["set"] * 1e3 / count
    print(f"customers:batch of {arguments.size} on SQLite, embedded stack, {count} customers a path: "
          f"per item {before:.2f} ms CPU per customer, set {after:.2f} ms; ratio {before / after:.2f}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"of which until the response: per item {request_cpu['per item'] * 1e3 / count:.2f} ms, set {request_cpu['set'] * 1e3 / count:.2f} ms "
          "(the rest: relay, bus and the consumers, scoring's included)")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=4, help="timed batches per path")
    parser.add_argument("--size", type=int, default=500, help="customers per batch (the demo sends 500)")
    parser.add_argument("--profile", action="store_true", help="cProfile of the set path's batches")
    arguments = parser.parse_args()
    print(f"load average at the start {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="customers-cpu-") as folder:
        asyncio.run(measure(arguments, Path(folder)))


if __name__ == "__main__":
    main()
