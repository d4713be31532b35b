"""Running the deploy/ scripts from tests: one place for ports, environment and failures."""

import os
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


class ScriptFailed(RuntimeError):
    """A deploy/ script exited non-zero; the message carries what it printed."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_script(command: Sequence[str | Path], *, env: dict[str, str], timeout: float) -> str:
    """Runs `command` with `env` added to our environment and returns its stdout."""
    command = [str(part) for part in command]
    completed = subprocess.run(
        command,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if completed.returncode != 0:
        raise ScriptFailed(
            f"{' '.join(command)} exited {completed.returncode}\n"
            f"{completed.stdout}{completed.stderr}"
        )
    return completed.stdout.strip()
