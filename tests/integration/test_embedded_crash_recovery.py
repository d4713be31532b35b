"""`kill -9` of the embedded stack (`pulse run`) while purchases stream in, then a restart: every
acknowledged purchase reaches a consumer group of the stack exactly once, though that group
subscribes only after the services have started (and their relays have run)."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from services.common.settings import SERVICE_PORTS
from tests.integration.kafka_tools import eventually

ROOT = Path(__file__).resolve().parents[2]
BATCH = 50
STORED = "SELECT order_id, count(*) FROM purchases GROUP BY order_id"
COUNTED = "SELECT order_id, times FROM purchase_tally"


def _free_port_offset() -> int:
    """An offset under which the four service ports are free on 127.0.0.1."""
    for _ in range(50):
        offset = int.from_bytes(os.urandom(2), "big") % 20000 + 20000
        if all(_port_is_free(port + offset) for port in SERVICE_PORTS.values()):
            return offset
    raise RuntimeError("no free port range found")


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class EmbeddedStack:
    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.offset = _free_port_offset()
        self.env = os.environ | {
            "PULSE_DATA_DIR": str(data_dir), "PULSE_PORT_OFFSET": str(self.offset), "PULSE_HOST": "127.0.0.1",
            "PULSE_TALLY_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'tally.db'}",
        }
        for name in ("PULSE_BUS", "PULSE_DATABASE_URL", "PULSE_AUTH_DATABASE_URL", "PULSE_PORT"):
            self.env.pop(name, None)
        self.process: subprocess.Popen | None = None

    @property
    def profiles_url(self) -> str:
        return f"http://127.0.0.1:{SERVICE_PORTS['profiles'] + self.offset}"

    def start(self, timeout: float = 60) -> None:
        log = open(self.data_dir.parent / "embedded.log", "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "tests.integration.embedded_with_tally"], env=self.env,
                                        cwd=ROOT, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the embedded stack exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.profiles_url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError("the embedded stack was not ready in time")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


async def _stream_batches(url: str, key: str, customer_id: str, acknowledged: set[str], stop: asyncio.Event, worker: int) -> None:
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
        batch_number = 0
        while not stop.is_set():
            items = [{"order_id": f"w{worker}-b{batch_number}-{n}", "customer_id": customer_id, "amount": "9.90",
                      "occurred_at": "2026-07-01T12:00:00+08:00"} for n in range(BATCH)]
            batch_number += 1
            try:
                response = await client.post("/v1/purchases:batch", json={"items": items})
            except httpx.HTTPError:
                return  # the process died under us: this batch was never acknowledged
            if response.status_code == 200:
                acknowledged.update(item["order_id"] for item, result in zip(items, response.json()["results"])
                                    if result["status"] == "created")


async def test_kill_9_of_the_embedded_stack_loses_no_acknowledged_purchase_for_any_group(tmp_path):
    data_dir = tmp_path / "data"
    stack = EmbeddedStack(data_dir)
    stack.start()
    tally_url = stack.env["PULSE_TALLY_DATABASE_URL"]
    try:
        key = (data_dir / "admin-api-key").read_text().strip()
        async with httpx.AsyncClient(base_url=stack.profiles_url, headers={"Authorization": f"Bearer {key}"}) as client:
            customer_id = (await client.post("/v1/customers", json={"name": "孙悟空"})).json()["id"]
        acknowledged: set[str] = set()
        stop = asyncio.Event()
        writers = [asyncio.create_task(_stream_batches(stack.profiles_url, key, customer_id, acknowledged, stop, worker))
                   for worker in range(2)]
        assert await eventually(lambda: _at_least(acknowledged, 10 * BATCH), timeout=60)
        stack.kill()
        stop.set()
        await asyncio.gather(*writers)
        acknowledged_at_kill = set(acknowledged)

        stack.start()
        stored = await _counts(f"sqlite+aiosqlite:///{data_dir / 'profiles.db'}", STORED)
        assert acknowledged_at_kill <= set(stored), "an acknowledged purchase was lost"
        assert await eventually(lambda: _tally_has(tally_url, set(stored)), timeout=60), "not every stored purchase reached the group"
        counts = await _counts(tally_url, COUNTED)
        assert set(counts) == set(stored)
        assert set(counts.values()) == {1}, "a purchase was counted twice"
    finally:
        stack.stop()


async def _at_least(collection, size: int) -> bool:
    return len(collection) >= size


async def _tally_has(tally_url: str, orders: set[str]) -> bool:
    return set(await _counts(tally_url, COUNTED)) >= orders


async def _counts(database_url: str, query: str) -> dict[str, int]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return dict((await connection.execute(sa.text(query))).all())
    finally:
        await engine.dispose()
