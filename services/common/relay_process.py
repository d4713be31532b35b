"""The outbox relay of one service in a process of its own (PULSE_OUTBOX_RELAY=process).

Started by `run_service` beside the API process(es). On PostgreSQL every relay of a database
competes for one advisory lock, so this one leads while the API processes only show the backlog;
its promises are the relay's (outbox.py): in order, marked sent only after the broker acknowledged.
It ends when its parent does, even one killed with -9, so that a restarted service relays again.

    python -m services.common.relay_process <service>
"""

import asyncio
import logging
import os
import signal
import sys

import uvloop

from services.common.bootstrap import build_bus
from services.common.database import Database
from services.common.observability import ServiceMetrics, configure_logging
from services.common.outbox import OutboxRelay
from services.common.settings import Settings
from services.common.shutdown import bounded_step

log = logging.getLogger(__name__)
PARENT_CHECK_SECONDS = 0.5
STOP_SECONDS = 15.0
ORPHAN_STOP_SECONDS = 2.0
# No commit of this process wakes its relay, so it looks this often at most when idle (one indexed
# query of the unsent rows; the API processes' commits cannot reach it).
IDLE_POLL_SECONDS = 0.1


async def relay_until_stopped(service: str, settings: Settings, parent: int) -> None:
    database = Database(settings.database_url_for(service), migrations=[])
    bus = build_bus(settings, client_id=f"pulse-{service}-relay")
    relay = OutboxRelay(
        database=database, bus=bus, metrics=ServiceMetrics(service), batch_size=settings.outbox_batch_size,
        poll_seconds=min(settings.outbox_poll_seconds, IDLE_POLL_SECONDS), linger_seconds=settings.outbox_linger_seconds,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    task = asyncio.create_task(relay.run(), name=f"{service}:outbox")
    orphaned = False
    try:
        while not stop.is_set() and not task.done() and not orphaned:
            try:
                await asyncio.wait_for(stop.wait(), timeout=PARENT_CHECK_SECONDS)
            except TimeoutError:
                orphaned = os.getppid() != parent
    finally:
        task.cancel()
        await bounded_step("relay task", asyncio.gather(task, return_exceptions=True), service, STOP_SECONDS)
        # An orphan does not wait to flush: what it has not marked sent, the restarted service sends.
        seconds = ORPHAN_STOP_SECONDS if orphaned else STOP_SECONDS
        await bounded_step("outbox relay", relay.close(), service, seconds)
        await bounded_step("bus", bus.stop(), service, seconds)
        await bounded_step("database", database.dispose(), service, seconds)


def main(service: str) -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    log.info("%s relay started", service, extra={"service": service})
    uvloop.run(relay_until_stopped(service, settings, parent=os.getppid()))


if __name__ == "__main__":
    main(sys.argv[1])
