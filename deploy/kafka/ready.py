"""Waits until a Kafka broker answers a real metadata request, or gives up.

Usage: ready.py BOOTSTRAP [--timeout SECONDS] [--pid PID]
Exit 0 when ready; 1 on timeout; 2 when the process PID died first.
"""

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError

EXIT_READY, EXIT_TIMEOUT, EXIT_DIED = 0, 1, 2


def process_alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        state = next(line for line in status.read_text().splitlines() if line.startswith("State:"))
    except (FileNotFoundError, StopIteration):
        return False
    return "zombie" not in state


async def broker_answers(bootstrap: str) -> bool:
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        # A broker that accepts connections but never answers must not stall the wait.
        await asyncio.wait_for(client.bootstrap(), timeout=10)
        return bool(client.cluster.brokers())
    except (KafkaError, OSError):  # TimeoutError is an OSError
        return False
    finally:
        await client.close()


async def wait_ready(bootstrap: str, *, timeout: float, pid: int | None = None) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid is not None and not process_alive(pid):
            return EXIT_DIED
        if await broker_answers(bootstrap):
            return EXIT_READY
        await asyncio.sleep(0.5)
    return EXIT_TIMEOUT


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bootstrap")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--pid", type=int)
    args = parser.parse_args()
    # Refused connections while the broker boots are expected, not worth a warning each.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    return asyncio.run(wait_ready(args.bootstrap, timeout=args.timeout, pid=args.pid))


if __name__ == "__main__":
    sys.exit(main())
