"""`pulse backup` while writes run and `pulse restore`: every write acknowledged before the backup
began comes back, the restored databases are sound and the services start on them; and the
refusals (a running stack, a non-empty folder, a damaged or foreign backup), each in one line."""

import asyncio
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from services.common.backup import DATABASES, BackupError, read_manifest, restore, take_backup
from services.common.data_dir import DataDirInUse, claimed
from tests.harness import SERVICES, embedded_harness, settings_for_tests
from tests.integration.kafka_tools import eventually
from tests.integration.service_process import EmbeddedProcess
from tests.integration.streams import PurchaseStream

ROOT = Path(__file__).resolve().parents[2]
KEYS = ("secrets.json", "feedback-secrets.json", "alerts-secrets.json")


def embedded_settings(data_dir: Path):
    """As `pulse run` has them: the keys are made into the data folder, not given."""
    return settings_for_tests(data_dir, encryption_keys="", hash_key="")


def pulse(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from services.cli import main; main()", *args], cwd=ROOT,
                          env=os.environ | env, capture_output=True, text=True, timeout=120)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.strip().count("\n") == 0, result.stderr
    return result.stderr


async def write_customers_and_purchases(profiles, acknowledged: set[str], stop: asyncio.Event) -> None:
    """A customer and a batch of purchases per round; `acknowledged` gets what was answered as created."""
    round_number = 0
    while not stop.is_set():
        customer = await profiles.client.post("/v1/customers", headers=profiles.auth(),
                                              json={"external_id": f"c{round_number}", "name": "孙悟空"})
        assert customer.status_code == 201
        acknowledged.add(f"customer:c{round_number}")
        items = [{"order_id": f"o{round_number}-{n}", "customer_id": customer.json()["id"], "amount": "9.90",
                  "occurred_at": "2026-07-01T12:00:00+08:00"} for n in range(20)]
        purchases = await profiles.client.post("/v1/purchases:batch", headers=profiles.auth(), json={"items": items})
        assert purchases.status_code == 200
        acknowledged.update(f"purchase:{item['order_id']}" for item, result in zip(items, purchases.json()["results"])
                            if result["status"] == "created")
        round_number += 1


def stored_writes(profiles_db: Path) -> set[str]:
    with sqlite3.connect(profiles_db) as connection:
        customers = {f"customer:{row[0]}" for row in connection.execute("SELECT external_id FROM customers")}
        purchases = {f"purchase:{row[0]}" for row in connection.execute("SELECT order_id FROM purchases")}
    return customers | purchases


async def ready(port: int) -> bool:
    """Scoring may answer 503 for a while: it re-scores what the restored outboxes send again, and
    on SQLite its readiness query waits for the write lock."""
    async with httpx.AsyncClient(timeout=30) as client:
        try:
            return (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
        except httpx.HTTPError:
            return False


def integrity(database: Path) -> str:
    with sqlite3.connect(database) as connection:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]


def owner_only(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600)


async def test_a_backup_taken_while_writes_run_restores_every_write_acknowledged_before_it(tmp_path):
    data, backup, restored = tmp_path / "data", tmp_path / "backup", tmp_path / "restored"
    acknowledged: set[str] = set()
    stop = asyncio.Event()
    async with embedded_harness(embedded_settings(data)) as stack:
        writer = asyncio.create_task(write_customers_and_purchases(stack["profiles"], acknowledged, stop))
        while len(acknowledged) < 200:
            await asyncio.sleep(0.01)
        before_backup = set(acknowledged)
        manifest = await asyncio.to_thread(take_backup, embedded_settings(data), backup)
        assert not writer.done(), "the writes ran on through the backup"
        stop.set()
        await writer
    assert {entry["file"] for entry in manifest["files"]} == {f"{name}.db" for name in DATABASES} | set(KEYS)
    assert owner_only(backup) and all(owner_only(path) for path in backup.iterdir())

    restore(embedded_settings(restored), backup)
    assert all(integrity(restored / f"{name}.db") == "ok" for name in DATABASES)
    assert before_backup <= stored_writes(restored / "profiles.db"), "a write acknowledged before the backup is missing"
    assert all((restored / key).read_bytes() == (data / key).read_bytes() for key in KEYS)
    async with embedded_harness(embedded_settings(restored)) as stack:
        profiles = stack["profiles"]
        found = await profiles.client.get("/v1/customers", params={"q": "悟空", "limit": 1}, headers=profiles.auth())
        assert found.status_code == 200 and found.json()["items"][0]["name"] == "孙悟空"  # the restored keys decrypt
        for harness in stack.values():
            assert (await harness.client.get("/readyz")).status_code == 200


# Who writes each topic (shared/design/events.md).
PRODUCER_OF_TOPIC = {"customers": "profiles", "purchases": "profiles", "interactions": "profiles", "feedback": "feedback",
                     "complaints": "feedback", "scores": "scoring", "alerts": "alerts"}


def test_every_producer_is_snapshotted_before_its_consumers_unless_held_with_them():
    """The snapshot order loses no event only if, for every service consuming another's events, the
    producer's snapshot comes first, or both are the pair whose writers are held together."""
    import importlib

    from services.common.backup import FEED_EACH_OTHER, SNAPSHOT_ORDER
    from services.common.catalog import CATALOG

    position = {name: index for index, name in enumerate(SNAPSHOT_ORDER)}
    for consumer in SERVICES:
        for event_type in importlib.import_module(f"services.{consumer}.app").SPEC.handlers:
            producer = PRODUCER_OF_TOPIC[CATALOG[event_type].topic]
            if {producer, consumer} != set(FEED_EACH_OTHER):
                assert position[producer] < position[consumer], f"{producer} → {consumer} ({event_type})"


@pytest.fixture(scope="module")
def a_backup(tmp_path_factory) -> Path:
    """One backup of a stack that has run, copied by each test that changes it."""
    folder = tmp_path_factory.mktemp("backup")

    async def run_once() -> None:
        async with embedded_harness(embedded_settings(folder / "data")):
            pass

    asyncio.run(run_once())
    take_backup(embedded_settings(folder / "data"), folder / "backup")
    return folder / "backup"


@pytest.fixture
def backup(a_backup, tmp_path) -> Path:
    return Path(shutil.copytree(a_backup, tmp_path / "backup"))


def test_the_manifest_names_sizes_checksums_and_schema_revisions(backup):
    manifest = read_manifest(backup)
    profiles = next(entry for entry in manifest["files"] if entry["file"] == "profiles.db")
    assert profiles["bytes"] == (backup / "profiles.db").stat().st_size and len(profiles["sha256"]) == 64
    assert "profiles_0001" in profiles["revisions"] and "common_0001" not in profiles["revisions"]  # heads only
    assert manifest["started_at"].endswith("+00:00")


def test_restore_refuses_while_the_stack_holds_the_data_folder(backup, tmp_path):
    target = tmp_path / "data"
    with claimed(target):  # what `pulse run` holds while it runs
        error = one_line_error(pulse("restore", str(backup), PULSE_DATA_DIR=str(target)))
    assert "running" in error
    assert [path.name for path in target.iterdir()] == [".pulse.lock"]


def test_a_second_claim_on_one_data_folder_is_refused(tmp_path):
    with claimed(tmp_path):
        with pytest.raises(DataDirInUse):
            with claimed(tmp_path):
                pass
    with claimed(tmp_path):  # given back when the holder ends
        pass


def test_restore_into_a_non_empty_folder_needs_force_and_then_replaces_it(backup, tmp_path):
    target = tmp_path / "data"
    target.mkdir()
    (target / "profiles.db").write_bytes(b"old")
    (target / "profiles.db-wal").write_bytes(b"a log that must not be replayed into the restored file")
    with pytest.raises(BackupError, match="--force"):
        restore(embedded_settings(target), backup)
    assert (target / "profiles.db").read_bytes() == b"old"

    restore(embedded_settings(target), backup, force=True)
    assert not (target / "profiles.db-wal").exists()
    assert (target / "profiles.db").read_bytes() == (backup / "profiles.db").read_bytes()
    assert owner_only(target) and all(owner_only(path) for path in target.iterdir())


def test_a_damaged_backup_is_refused_before_anything_is_written(backup, tmp_path):
    with open(backup / "scoring.db", "r+b") as handle:
        handle.seek(5000)
        handle.write(b"\xff")
    with pytest.raises(BackupError, match="damaged"):
        restore(embedded_settings(tmp_path / "data"), backup)
    assert not (tmp_path / "data").exists()


def test_a_folder_without_manifest_is_not_a_backup(backup, tmp_path):
    (backup / "manifest.json").unlink()
    with pytest.raises(BackupError, match="not a \\(complete\\) backup"):
        restore(embedded_settings(tmp_path / "data"), backup)


def test_a_manifest_naming_a_file_outside_the_data_folder_is_refused(backup, tmp_path):
    manifest = read_manifest(backup)
    manifest["files"][0]["file"] = "../outside.db"
    (backup / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="no file of a Pulse backup"):
        restore(embedded_settings(tmp_path / "data"), backup)
    assert not (tmp_path / "outside.db").exists()


def test_a_backup_from_a_newer_schema_is_refused(backup, tmp_path):
    manifest = read_manifest(backup)
    manifest["files"][0]["revisions"].append("profiles_9999")
    (backup / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="profiles_9999"):
        restore(embedded_settings(tmp_path / "data"), backup)


def test_backup_wants_a_new_or_empty_folder_and_the_embedded_mode(backup, tmp_path):
    data = tmp_path / "data"
    restore(embedded_settings(data), backup)
    with pytest.raises(BackupError, match="not an empty folder"):
        take_backup(embedded_settings(data), backup)
    with pytest.raises(BackupError, match="nothing to back up"):
        take_backup(embedded_settings(tmp_path / "empty"), tmp_path / "new")
    postgres = pulse("backup", "--out", str(tmp_path / "new"), PULSE_DATA_DIR=str(data),
                     PULSE_DATABASE_URL="postgresql+asyncpg://pulse@127.0.0.1:5432/pulse_profiles")
    assert "docs/operations.md" in one_line_error(postgres)


@pytest.mark.slow
async def test_pulse_backup_of_a_running_pulse_run_restores_and_the_stack_starts_on_it(tmp_path):
    """The commands themselves, against `pulse run` in a process of its own."""
    data, backup, restored = tmp_path / "data", tmp_path / "backup", tmp_path / "restored"
    stack = EmbeddedProcess({"PULSE_DATA_DIR": str(data)}, tmp_path / "embedded.log")
    stack.start()
    try:
        key = (data / "admin-api-key").read_text().strip()
        stream = await PurchaseStream(stack.url, key, batch=50).start()
        while len(stream.acknowledged) < 200:
            await asyncio.sleep(0.05)
        before_backup = set(stream.acknowledged)
        taken = await asyncio.create_subprocess_exec(sys.executable, "-m", "services.cli", "backup", "--out", str(backup),
                                                     cwd=ROOT, env=os.environ | {"PULSE_DATA_DIR": str(data)},
                                                     stderr=asyncio.subprocess.PIPE)
        _, errors = await taken.communicate()
        assert taken.returncode == 0, errors.decode()
        assert "running" in one_line_error(await asyncio.to_thread(pulse, "restore", str(backup), PULSE_DATA_DIR=str(data)))
        await stream.stop()
    finally:
        stack.stop()

    restoring = pulse("restore", str(backup), PULSE_DATA_DIR=str(restored))
    assert restoring.returncode == 0, restoring.stderr
    assert all(integrity(restored / f"{name}.db") == "ok" for name in DATABASES)
    with sqlite3.connect(restored / "profiles.db") as connection:
        stored = {row[0] for row in connection.execute("SELECT order_id FROM purchases")}
    assert before_backup <= stored, "a purchase acknowledged before the backup is missing"

    again = EmbeddedProcess({"PULSE_DATA_DIR": str(restored)}, tmp_path / "restored.log")
    again.start(timeout=240)  # scoring re-scores what the restored outboxes send again
    try:
        async with httpx.AsyncClient(base_url=again.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
            customer = await client.get(f"/v1/customers/{stream.customer_id}")
        assert customer.status_code == 200 and customer.json()["name"] == "孙悟空"
        for offset in (1, 2, 3):  # feedback, scoring, alerts beside profiles
            assert await eventually(lambda port=again.port + offset: ready(port), timeout=180)
    finally:
        again.stop()
