"""The distributed mode's backup as docs/operations.md writes it: `pg_dump --format=custom` of a
service database while purchases are being written, `pg_restore` into an empty database, and the
service starts on it with every purchase acknowledged before the dump began."""

import asyncio
import os
import shutil
import subprocess

import asyncpg
import pytest

from tests.harness import service_harness, settings_for_tests


def libpq_url(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def write_purchases(profiles, customer_id: str, acknowledged: set[str], stop: asyncio.Event) -> None:
    batch = 0
    while not stop.is_set():
        items = [{"order_id": f"o{batch}-{n}", "customer_id": customer_id, "amount": "9.90",
                  "occurred_at": "2026-07-01T12:00:00+08:00"} for n in range(20)]
        response = await profiles.client.post("/v1/purchases:batch", headers=profiles.auth(), json={"items": items})
        assert response.status_code == 200
        acknowledged.update(item["order_id"] for item, result in zip(items, response.json()["results"]) if result["status"] == "created")
        batch += 1


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is installed with PostgreSQL by deploy/postgres/postgres.sh")
async def test_pg_dump_while_writes_run_and_pg_restore_keep_every_acknowledged_purchase(postgres_server, tmp_path):
    source = postgres_server.create_database(f"t_{os.urandom(6).hex()}")
    target = postgres_server.create_database(f"t_{os.urandom(6).hex()}")
    dump = tmp_path / "pulse_profiles.dump"
    acknowledged: set[str] = set()
    stop = asyncio.Event()
    async with service_harness("profiles", settings_for_tests(tmp_path / "a", database_url=source)) as profiles:
        customer_id = (await profiles.client.post("/v1/customers", headers=profiles.auth(), json={"name": "孙悟空"})).json()["id"]
        writer = asyncio.create_task(write_purchases(profiles, customer_id, acknowledged, stop))
        while len(acknowledged) < 200:
            await asyncio.sleep(0.01)
        before_dump = set(acknowledged)
        dumped = await asyncio.create_subprocess_exec("pg_dump", "--format=custom", f"--file={dump}", libpq_url(source),
                                                      stderr=asyncio.subprocess.PIPE)
        _, errors = await dumped.communicate()
        assert dumped.returncode == 0, errors.decode()
        assert not writer.done(), "the writes ran on through the dump"
        stop.set()
        await writer
        encryption_keys = profiles.platform.settings.encryption_keys

    restored = subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={libpq_url(target)}", str(dump)],
                              capture_output=True, text=True, timeout=120)
    assert restored.returncode == 0, restored.stderr
    connection = await asyncpg.connect(libpq_url(target))
    try:
        stored = {row["order_id"] for row in await connection.fetch("SELECT order_id FROM purchases")}
    finally:
        await connection.close()
    assert before_dump <= stored, "a purchase acknowledged before the dump is missing"

    settings = settings_for_tests(tmp_path / "b", database_url=target, encryption_keys=encryption_keys)
    async with service_harness("profiles", settings) as profiles:
        customer = await profiles.client.get(f"/v1/customers/{customer_id}", headers=profiles.auth())
        assert customer.status_code == 200 and customer.json()["name"] == "孙悟空"
