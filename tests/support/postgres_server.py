"""A real PostgreSQL server for tests, run by deploy/postgres/postgres.sh."""

import tempfile
from pathlib import Path

from tests.support.scripts import DEPLOY, free_port, run_script

POSTGRES_SH = DEPLOY / "postgres" / "postgres.sh"


class PostgresServer:
    """One server on 127.0.0.1 (trust auth, user `pulse`) whose cluster lives in `workdir`.

    Without a `workdir` the cluster gets a folder of its own outside pytest's temporary tree:
    every pytest session makes that tree's root owner-only again, and the server, which runs as
    the `postgres` user, would then lose its way to a cluster of another session."""

    def __init__(self, workdir: Path | None = None, port: int | None = None) -> None:
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="pulse-postgres-"))
        self.port = port or free_port()

    @property
    def url(self) -> str:
        return f"postgresql://pulse@127.0.0.1:{self.port}"

    def start(self) -> None:
        """Starts the server (initdb on first start) with the five service databases."""
        self._postgres_sh("start", timeout=180)

    def stop(self) -> None:
        self._postgres_sh("stop", timeout=60)

    def create_database(self, name: str) -> str:
        """Creates `name` unless it exists; returns its SQLAlchemy asyncpg URL."""
        self._postgres_sh("createdb", name, timeout=30)
        return f"postgresql+asyncpg://pulse@127.0.0.1:{self.port}/{name}"

    def __enter__(self) -> "PostgresServer":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _postgres_sh(self, *args: str, timeout: float) -> str:
        env = {"PULSE_PG_PORT": str(self.port), "PULSE_PG_DIR": str(self.workdir)}
        return run_script([POSTGRES_SH, *args], env=env, timeout=timeout)
