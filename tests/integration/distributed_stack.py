"""The distributed run as an operator starts it: every service its own OS process (`pulse serve
<service>`), each with its own PostgreSQL database and only its own keys, one shared API-key
database, all on one Kafka broker. Scoring runs through `movable_clock_service` (the same
`run_service`, on a clock the test can move forward) so that a customer's silence takes seconds."""

import os
import subprocess
import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet

from tests.integration.movable_clock_service import move_clock
from tests.integration.service_process import ROOT, ServiceProcess

TOPICS = ("customers", "purchases", "interactions", "feedback", "complaints", "scores", "alerts")
PARTITIONS = 4  # two instances of a service get two each


class DistributedStack:
    def __init__(self, tmp_path: Path, postgres_server, kafka_bootstrap: str):
        self.tmp_path = tmp_path
        self.kafka_bootstrap = kafka_bootstrap
        self.suffix = os.urandom(3).hex()  # topics of their own on a broker other tests share
        self.clock_file = tmp_path / "scoring-clock"
        self.databases = {name: postgres_server.create_database(f"e2e_{self.suffix}_{name}")
                          for name in ("auth", "profiles", "feedback", "scoring", "alerts")}
        self.common = {
            "PULSE_BUS": "kafka", "PULSE_KAFKA_BOOTSTRAP": kafka_bootstrap, "PULSE_KAFKA_PARTITIONS": str(PARTITIONS),
            "PULSE_AUTH_DATABASE_URL": self.databases["auth"], "PULSE_DATA_DIR": str(tmp_path), "PULSE_HOST": "127.0.0.1",
        } | {f"PULSE_TOPIC_{name.upper()}": f"e2e-{self.suffix}.{name}" for name in TOPICS}
        # Each service gets its own keys only, as docker-compose.yml gives them.
        self.own = {
            "profiles": {"PULSE_ENCRYPTION_KEYS": Fernet.generate_key().decode(), "PULSE_HASH_KEY": os.urandom(16).hex()},
            "feedback": {"PULSE_SURVEY_LINK_KEY": os.urandom(16).hex()},
            "scoring": {"PULSE_TEST_CLOCK_FILE": str(self.clock_file)},
            "alerts": {"PULSE_ALERTS_SECRET_KEYS": Fernet.generate_key().decode()},
        }
        self.processes: list[ServiceProcess] = []

    def topic(self, name: str) -> str:
        return self.common[f"PULSE_TOPIC_{name.upper()}"]

    def instance(self, service: str, number: int = 1) -> ServiceProcess:
        env = self.common | self.own[service] | {"PULSE_DATABASE_URL": self.databases[service]}
        process = ServiceProcess(service, env, self.tmp_path / f"{service}-{number}.log")
        if service == "scoring":
            process.command = [sys.executable, "-m", "tests.integration.movable_clock_service", service]
        else:
            process.command = [str(Path(sys.executable).with_name("pulse")), "serve", service]
        self.processes.append(process)
        return process

    def launch(self, instances: dict[str, int]) -> dict[str, list[ServiceProcess]]:
        """All instances side by side, without waiting for them; by service."""
        launched = {service: [self.instance(service, n + 1) for n in range(count)] for service, count in instances.items()}
        for process in self.processes:
            process.launch()
        return launched

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        for process in self.processes:
            process.wait_ready(max(1.0, deadline - time.monotonic()))

    def admin_key(self, timeout: float = 180) -> str:
        """`pulse keys create` against the shared key database, as the operator's first step."""
        command = [str(Path(sys.executable).with_name("pulse")), "keys", "create", "--role", "admin", "--name", "e2e operator"]
        result = subprocess.run(command, env=os.environ | self.common, cwd=ROOT, capture_output=True, text=True,
                                timeout=timeout, check=True)
        return result.stdout.strip()

    def move_scoring_clock(self, *, ahead_by: float) -> None:
        move_clock(self.clock_file, ahead_by=ahead_by)

    def stop(self) -> None:
        """SIGTERM to all at once, SIGKILL to whoever is still there after a bounded wait."""
        running = [p.process for p in self.processes if p.process and p.process.poll() is None]
        for process in running:
            process.terminate()
        deadline = time.monotonic() + 20
        for process in running:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
