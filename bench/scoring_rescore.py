"""Scoring benchmark: refit and bulk re-score of N customers stored in PostgreSQL, and the resident
memory of the process that does it.

    .venv/bin/python bench/scoring_rescore.py [--customers 1000000] [--seed 7]

The customers' purchase lines are drawn from BG/NBD with CDNOW's estimates (bench/clv_fit.py's
draw) and written straight into the scoring tables with COPY and one INSERT ... SELECT; then
`pulse scoring refit --as-of ...` (the real command: refit, store, re-score everyone in chunks,
events for real changes through the outbox) runs as a fresh process, timed (wall and its own CPU
seconds; PostgreSQL's work is not in the latter), with its peak RSS.
A second refit on the same data follows: its re-score must find no real change. Starts a
throw-away PostgreSQL unless PULSE_TEST_POSTGRES_URL names a running one. Prints JSON.
"""

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.clv_fit import AS_OF, GAMMA_GAMMA, draw_customers  # noqa: E402
from services.common.service_app import Platform, build_context  # noqa: E402
from services.scoring.app import SPEC  # noqa: E402
from tests.conftest import ExternalPostgres  # noqa: E402
from tests.harness import settings_for_tests  # noqa: E402
from tests.support.postgres_server import PostgresServer  # noqa: E402

FILL = """
INSERT INTO scoring_customers (customer_id, interactions, feedback_received, negative_feedback)
    SELECT 'C' || lpad(g::text, 7, '0'), 0, 0, 0 FROM generate_series(0, $1 - 1) AS g;
"""
LINES = """
INSERT INTO scoring_purchase_lines (kind, line_id, customer_id, purchase_id, day, units, occurred_at)
    SELECT 'purchase', 'p' || n, 'C' || lpad(customer::text, 7, '0'), 'p' || n, day, units,
           to_timestamp(day * 86400.0)
    FROM bench_lines;
"""


def purchase_lines(customers: int, seed: int):
    """(line number, customer, day, units): each customer's first purchase and the repeats after it."""
    T, _, owner, day, rng = draw_customers(customers, seed)
    as_of = np.datetime64(AS_OF, "D").astype(np.int64)
    customer = np.concatenate([np.arange(customers), owner])
    days = np.concatenate([as_of - T, as_of - T[owner] + day]).astype(np.int64)
    spend_rate = rng.gamma(GAMMA_GAMMA["q"], 1 / GAMMA_GAMMA["v"], customers)
    units = np.round(rng.gamma(GAMMA_GAMMA["p"], 1 / spend_rate[customer]), 2) * 10_000
    return zip(range(customer.size), customer.tolist(), days.tolist(), units.astype(np.int64).tolist())


async def fill(url: str, customers: int, seed: int) -> int:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute("CREATE UNLOGGED TABLE bench_lines (n bigint, customer int, day int, units bigint)")
        await connection.copy_records_to_table("bench_lines", records=purchase_lines(customers, seed))
        await connection.execute(FILL, customers)
        await connection.execute(LINES)
        await connection.execute("DROP TABLE bench_lines; ANALYZE")
        return await connection.fetchval("SELECT count(*) FROM scoring_purchase_lines")
    finally:
        await connection.close()


async def count(url: str, query: str) -> int:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        return await connection.fetchval(query)
    finally:
        await connection.close()


async def migrate(settings) -> None:
    context = build_context(SPEC, Platform.from_settings(settings))
    try:
        await context.database.migrate()
    finally:
        context.offload.close()
        await context.database.dispose()


def refit(settings, folder: Path, profile: str | None = None) -> dict:
    """`pulse scoring refit` as its own process: wall time, its peak RSS and what it printed;
    under cProfile (its statistics written to `profile`) when asked."""
    env = os.environ | {"PULSE_DATABASE_URL": settings.database_url, "PULSE_DATA_DIR": str(folder),
                        "PULSE_ENCRYPTION_KEYS": settings.encryption_keys, "PULSE_HASH_KEY": settings.hash_key}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    profiler = ["-m", "cProfile", "-o", profile] if profile else []
    done = subprocess.run([sys.executable, *profiler, "-m", "services.cli", "scoring", "refit", "--as-of", f"{AS_OF}T00:00:00Z"],
                          env=env, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    status = json.loads(done.stdout[done.stdout.index("{"):])["in_use"]
    # The peak of all children so far: the first refit's, or a later one's when it went higher.
    return {"seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1), "peak_rss_mb": round(after.ru_maxrss / 1024),
            "status": status and status["status"], "load_average": [round(v, 2) for v in os.getloadavg()]}


async def changes(url: str) -> dict:
    return {"score_changes": await count(url, "SELECT count(*) FROM scoring_score_changes"),
            "outbox_events": await count(url, "SELECT count(*) FROM outbox"),
            "scores": await count(url, "SELECT count(*) FROM scoring_scores")}


def run(arguments, url: str, folder: Path) -> dict:
    settings = settings_for_tests(folder, database_url=url)
    asyncio.run(migrate(settings))
    started = time.perf_counter()
    lines = asyncio.run(fill(url, arguments.customers, arguments.seed))
    report = {"customers": arguments.customers, "purchase_lines": lines, "fill_seconds": round(time.perf_counter() - started, 1),
              "load_average_before": [round(v, 2) for v in os.getloadavg()]}
    profile = arguments.profile
    report["first_refit"] = refit(settings, folder, profile and f"{profile}.first") | asyncio.run(changes(url))
    report["second_refit"] = refit(settings, folder, profile and f"{profile}.second") | asyncio.run(changes(url))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", help="write each refit's cProfile statistics to PROFILE.first and PROFILE.second")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scoring-rescore-") as name:
        folder, postgres = Path(name), None
        try:
            if os.environ.get("PULSE_TEST_POSTGRES_URL"):
                url = ExternalPostgres(os.environ["PULSE_TEST_POSTGRES_URL"]).create_database(f"bench_{os.urandom(4).hex()}")
            else:
                postgres = PostgresServer(folder / "postgres")
                postgres.start()
                url = postgres.create_database("bench_rescore")
            print(json.dumps(run(arguments, url, folder), indent=2))
        finally:
            if postgres:
                postgres.stop()


if __name__ == "__main__":
    main()
