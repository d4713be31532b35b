"""Backups of the embedded mode (`pulse backup`, `pulse restore`): every SQLite database and the
key files of its data folder, copied while the stack runs, written for the owner only, with a manifest.

Each database is copied from a read transaction (a snapshot) by SQLite's online backup API while the
writers go on; the snapshots are opened in an order that keeps the databases consistent with each
other as far as events go (see SNAPSHOT_ORDER). The
distributed mode (PostgreSQL) is backed up with PostgreSQL's own tools: see docs/operations.md.
"""

import hashlib
import importlib
import io
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from services.common.data_dir import CLAIM_FILE, DataDirInUse, claimed
from services.common.settings import SERVICE_PORTS, Settings

DATABASES = (*SERVICE_PORTS, "auth")
# Profiles' encryption and hash keys, feedback's and alerts' own keys, the first admin key.
KEY_FILES = ("secrets.json", "feedback-secrets.json", "alerts-secrets.json", "admin-api-key")
# Snapshots are opened one after the other while writers go on, in this order. A consumer commits an
# event before its producer marks it sent, so a producer's snapshot opened before its consumers' has
# nothing marked sent that they lack (what it still has unsent goes again after a restore, and the
# inboxes drop what they already hold). Feedback and scoring feed each other (complaints and answers
# one way, tier changes the other): feedback's writers are held from its snapshot until scoring's is
# open, so neither moves on between the two. tests/common/test_backup.py checks this against the
# services' handlers.
SNAPSHOT_ORDER = ("auth", "profiles", "feedback", "scoring", "alerts")
FEED_EACH_OTHER = ("feedback", "scoring")
MANIFEST = "manifest.json"
FORMAT = 1
LOCK_WAIT_SECONDS = 30.0  # for feedback's write lock: a commit in progress ends well within it


class BackupError(Exception):
    """A reason, in one line, why a backup or restore did not happen."""


def take_backup(settings: Settings, out: Path) -> dict:
    """Copies every database and key file of `settings.data_dir` into `out` (new or empty)."""
    sources = _databases_of(settings)
    if not sources:
        raise BackupError(f"no database under {settings.data_dir}: nothing to back up")
    _prepare_empty_folder(out)
    started_at = datetime.now(UTC)
    with _snapshots(sources) as readers:
        entries = [_copy_database(name, reader, out) for name, reader in readers.items()]
    entries += [_copy_key_file(settings.data_dir / name, out) for name in KEY_FILES if (settings.data_dir / name).exists()]
    manifest = {
        "format": FORMAT, "started_at": started_at.isoformat(), "finished_at": datetime.now(UTC).isoformat(),
        "source": str(settings.data_dir.resolve()), "files": entries,
    }
    _write_private(out / MANIFEST, io.BytesIO(json.dumps(manifest, indent=2).encode()))
    return manifest


def restore(settings: Settings, backup: Path, *, force: bool = False) -> dict:
    """Puts a verified backup in place of `settings.data_dir`, which no running stack may hold."""
    _refuse_postgres(settings)
    manifest = read_manifest(backup)
    verify(backup, manifest)
    _refuse_unknown_revisions(manifest)
    target = settings.data_dir
    try:
        with claimed(target):
            target.chmod(0o700)  # it holds keys and personal data: the owner only, as `pulse run` makes it
            _clear_target(target, force)
            for entry in manifest["files"]:
                with open(backup / entry["file"], "rb") as reading:
                    _write_private(target / entry["file"], reading)
    except DataDirInUse as error:
        raise BackupError(str(error)) from None
    return manifest


def read_manifest(backup: Path) -> dict:
    try:
        manifest = json.loads((backup / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{backup} holds no {MANIFEST}: not a (complete) backup") from None
    except (OSError, ValueError) as error:
        raise BackupError(f"{backup / MANIFEST} is unreadable: {type(error).__name__}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{backup} is a backup of format {manifest.get('format')}; this version reads format {FORMAT}")
    return manifest


def verify(backup: Path, manifest: dict) -> None:
    """Every file of the manifest is there, with its size and checksum."""
    known = {f"{name}.db" for name in DATABASES} | set(KEY_FILES)
    for entry in manifest["files"]:
        if entry["file"] not in known:  # a name such as ../x would be written outside the data folder
            raise BackupError(f"the manifest names {entry['file']!r}, which is no file of a Pulse backup")
        path = backup / entry["file"]
        if not path.is_file():
            raise BackupError(f"{path} is missing from the backup")
        if path.stat().st_size != entry["bytes"] or _sha256(path) != entry["sha256"]:
            raise BackupError(f"{path} differs from the manifest (size or checksum): the backup is damaged")


def _databases_of(settings: Settings) -> dict[str, Path]:
    _refuse_postgres(settings)
    paths = {name: settings.data_dir / f"{name}.db" for name in DATABASES}
    return {name: path for name, path in paths.items() if path.exists()}


def _refuse_postgres(settings: Settings) -> None:
    if settings.database_url or settings.auth_database_url:
        raise BackupError("pulse backup and restore cover the embedded mode (SQLite under PULSE_DATA_DIR); "
                          "back up PostgreSQL with its own tools, see docs/operations.md")


def _prepare_empty_folder(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} exists and is not an empty folder")
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    out.chmod(0o700)


@contextmanager
def _snapshots(sources: dict[str, Path]) -> Iterator[dict[str, sqlite3.Connection]]:
    """A read transaction on each database, opened in SNAPSHOT_ORDER, feedback's write lock held
    from its snapshot until scoring's."""
    readers: dict[str, sqlite3.Connection] = {}
    held: sqlite3.Connection | None = None
    try:
        for name in (name for name in SNAPSHOT_ORDER if name in sources):
            if name == FEED_EACH_OTHER[0]:
                held = _write_lock(sources[name])
            readers[name] = _read_snapshot(sources[name])
            if name == FEED_EACH_OTHER[-1] and held is not None:
                held.close()  # closing rolls the empty write transaction back
                held = None
        yield readers
    finally:
        for connection in [*readers.values(), *([held] if held else [])]:
            connection.close()


def _write_lock(path: Path) -> sqlite3.Connection:
    """Waits for a commit in progress; then no writer of this database moves on until it is closed."""
    writer = _connect(path)
    try:
        writer.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        writer.close()
        raise BackupError(f"{path} stayed busy for {LOCK_WAIT_SECONDS:.0f} s ({error}); try again") from None
    return writer


def _read_snapshot(path: Path) -> sqlite3.Connection:
    reader = _connect(path)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts at the first read
    return reader


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=LOCK_WAIT_SECONDS, isolation_level=None)


def _copy_database(name: str, reader: sqlite3.Connection, out: Path) -> dict:
    target = out / f"{name}.db"
    _create_private(target)
    copy = sqlite3.connect(target, isolation_level=None)
    try:
        reader.backup(copy)
        # One self-contained file: no write-ahead log beside it (the services turn WAL on again).
        copy.execute("PRAGMA journal_mode=DELETE")
        integrity = copy.execute("PRAGMA integrity_check").fetchone()[0]
        revisions = _revisions(copy)
    finally:
        copy.close()
    if integrity != "ok":
        raise BackupError(f"the copy of {name}.db fails integrity_check: {integrity}")
    return {"kind": "database", "name": name, "revisions": revisions, **_described(target)}


def _revisions(connection: sqlite3.Connection) -> list[str]:
    try:
        return sorted(row[0] for row in connection.execute("SELECT version_num FROM alembic_version"))
    except sqlite3.OperationalError:  # not migrated yet
        return []


def _copy_key_file(source: Path, out: Path) -> dict:
    target = out / source.name
    with open(source, "rb") as reading:
        _write_private(target, reading)
    return {"kind": "key", "name": source.name, **_described(target)}


def _described(path: Path) -> dict:
    return {"file": path.name, "bytes": path.stat().st_size, "sha256": _sha256(path)}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _create_private(path: Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _write_private(path: Path, source: BinaryIO) -> None:
    """Written under a temporary name and renamed: a half-written file never carries the real name."""
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as writing:
        shutil.copyfileobj(source, writing, 1 << 20)
        writing.flush()
        os.fsync(writing.fileno())
    os.replace(partial, path)


def _refuse_unknown_revisions(manifest: dict) -> None:
    """A backup taken by a newer version has revisions this code cannot migrate from."""
    for entry in manifest["files"]:
        if entry["kind"] != "database":
            continue
        unknown = sorted(set(entry["revisions"]) - _known_revisions(entry["name"]))
        if unknown:
            raise BackupError(f"{entry['file']} is at revision {', '.join(unknown)}, unknown to this version of Pulse "
                              "(restore with the version that took the backup)")


def _known_revisions(database: str) -> set[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from services.common.bootstrap import AUTH_MIGRATIONS
    from services.common.database import COMMON_MIGRATIONS

    if database == "auth":
        folders = [AUTH_MIGRATIONS]
    else:
        spec = importlib.import_module(f"services.{database}.app").SPEC
        folders = [COMMON_MIGRATIONS / "versions"] + ([spec.migrations] if spec.migrations else [])
    config = Config()
    config.set_main_option("script_location", str(COMMON_MIGRATIONS))
    config.set_main_option("version_locations", " ".join(str(folder) for folder in folders))
    config.set_main_option("path_separator", "space")
    return {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}


def _clear_target(target: Path, force: bool) -> None:
    present = sorted(path.name for path in target.iterdir() if path.name != CLAIM_FILE)
    if present and not force:
        raise BackupError(f"{target} is not empty ({', '.join(present[:5])}{', …' if len(present) > 5 else ''}); "
                          "restore into an empty PULSE_DATA_DIR, or pass --force to replace it")
    # Everything a backup may hold goes, so nothing of the old state stays beside the restored one;
    # a write-ahead log left beside a replaced database would even be replayed into it.
    for name in [f"{database}.db" for database in DATABASES] + list(KEY_FILES):
        for suffix in ("", "-wal", "-shm", "-journal"):
            (target / (name + suffix)).unlink(missing_ok=True)
