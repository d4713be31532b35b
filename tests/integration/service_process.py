"""A service run as its own process, as in the distributed mode, or the embedded stack (`pulse run`)
as one, so a test can `kill -9` it."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from services.common.settings import SERVICE_PORTS
from tests.support.scripts import free_port

ROOT = Path(__file__).resolve().parents[2]


class ServiceProcess:
    def __init__(self, service: str, env: dict[str, str], log_file: Path):
        self.service = service
        self.command = [sys.executable, "-m", f"services.{service}"]
        self.port = free_port()
        self.env = os.environ | env | {"PULSE_PORT": str(self.port)}
        self.log_file = log_file
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "services.cli", *args], env=self.env, cwd=ROOT,
                                capture_output=True, text=True, timeout=60, check=True)
        return result.stdout.strip()

    def start(self, timeout: float = 60) -> None:
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Starts the process without waiting, so that several start side by side."""
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen(self.command, env=self.env, cwd=ROOT, stdout=log, stderr=log)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.service} exited with {self.process.returncode}; see {self.log_file}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.service} not ready after {timeout} s; see {self.log_file}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
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


class EmbeddedProcess(ServiceProcess):
    """The embedded stack in a process of its own; `url` is its profiles service. `module` may be a
    test's launcher that adds consumer groups to the stack."""

    def __init__(self, env: dict[str, str], log_file: Path, module: str = "services.cli", args: tuple[str, ...] = ("run",)):
        super().__init__("profiles", env, log_file)
        offset = free_port_offset()
        self.port = SERVICE_PORTS["profiles"] + offset
        self.command = [sys.executable, "-m", module, *args]
        self.env = os.environ | env | {"PULSE_PORT_OFFSET": str(offset), "PULSE_HOST": "127.0.0.1"}
        for name in ("PULSE_BUS", "PULSE_PORT", "PULSE_DATABASE_URL", "PULSE_AUTH_DATABASE_URL"):
            self.env.pop(name, None)


def free_port_offset() -> int:
    """An offset under which the four service ports are free on 127.0.0.1."""
    for _ in range(50):
        offset = int.from_bytes(os.urandom(2), "big") % 20000 + 20000
        if all(_port_is_free(port + offset) for port in SERVICE_PORTS.values()):
            return offset
    raise RuntimeError("no free range of ports found")


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
