"""`pulse run` with one more consumer group, a tally of purchases, for the embedded crash test.

Run as `python -m tests.integration.embedded_with_tally` with PULSE_TALLY_DATABASE_URL set. The
tally is built (and so registered) with the stack but subscribes a second after the services
start, as a slow service would, so that the relays have run before it is there."""

import asyncio
import os

from services.common.service_app import Platform
from services.common.settings import Settings
from services.embedded import run_embedded
from tests.integration.tally import Tally

SUBSCRIBE_AFTER_SECONDS = 1.0


async def add_tally(platform: Platform) -> None:
    tally = Tally(os.environ["PULSE_TALLY_DATABASE_URL"], group="tally", bus=platform.bus)
    await tally.prepare()
    asyncio.get_running_loop().call_later(SUBSCRIBE_AFTER_SECONDS, tally.consumer.attach)


def announce(ports: dict, _new_key, key_file) -> None:
    print(f"ready {ports} key in {key_file}", flush=True)


if __name__ == "__main__":
    asyncio.run(run_embedded(Settings(), announce, before_serve=add_tally))
