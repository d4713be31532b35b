"""A real Apache Kafka broker for tests, run by deploy/kafka/kafka.sh."""

import sys
from collections.abc import Iterable
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from tests.support.scripts import DEPLOY, ScriptFailed, free_port, run_script

KAFKA_SH = DEPLOY / "kafka" / "kafka.sh"
READY_PY = DEPLOY / "kafka" / "ready.py"
# Covers a first-time jar fetch plus the script's own 60 s readiness wait.
START_TIMEOUT = 180.0


class KafkaBroker:
    """One KRaft broker on 127.0.0.1 whose config, data and log live in `workdir`.

    The ports are fixed for the object's life, so `restart()` brings back the
    same cluster (id, topics, committed offsets) on the same bootstrap address.
    """

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.controller_port = free_port()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.workdir / "kafka.log"

    def start(self) -> None:
        """Starts the broker and returns once it answers a metadata request."""
        self._kafka_sh("start", timeout=START_TIMEOUT)

    def stop(self) -> None:
        """Controlled shutdown (SIGTERM; SIGKILL if it hangs)."""
        self._kafka_sh("stop", timeout=60)

    def kill(self) -> None:
        """SIGKILL, like a crash: the next start has to recover its logs."""
        self._kafka_sh("kill", timeout=30)

    def restart(self) -> None:
        self.stop()
        self.start()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Returns once the broker answers a metadata request; TimeoutError after `timeout` s."""
        command = [sys.executable, READY_PY, self.bootstrap, "--timeout", str(timeout)]
        try:
            run_script(command, env={}, timeout=timeout + 10)
        except ScriptFailed as failure:
            raise TimeoutError(f"Kafka at {self.bootstrap} not ready after {timeout}s; see {self.log_file}") from failure

    def __enter__(self) -> "KafkaBroker":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _kafka_sh(self, command: str, *, timeout: float) -> str:
        env = {
            "PULSE_KAFKA_PORT": str(self.port),
            "PULSE_KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "PULSE_KAFKA_DIR": str(self.workdir),
            # The readiness check needs aiokafka: the interpreter running the tests has it.
            "PULSE_PYTHON": sys.executable,
        }
        return run_script([KAFKA_SH, command], env=env, timeout=timeout)


async def create_topics(bootstrap: str, names: Iterable[str], partitions: int = 12) -> None:
    """Creates the topics that don't exist yet, one replica each (a single broker)."""
    topics = [NewTopic(name=name, num_partitions=partitions, replication_factor=1) for name in names]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        response = await admin.create_topics(topics)
    finally:
        await admin.close()
    # The admin client reports per-topic failures in the response instead of raising them.
    for name, code, *detail in response.topic_errors:
        error = for_code(code)
        if code != 0 and error is not TopicAlreadyExistsError:
            raise error(f"creating topic {name}: {detail}")
