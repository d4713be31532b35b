"""Feeding the scoring service catalog events as the bus would, and reading what it says."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from services.common.catalog import EventPayload, PurchaseRecorded, PurchaseRefunded, topic_of
from services.common.events import Envelope, envelope_for, to_message
from services.common.clock import ManualClock
from services.common.ids import new_id
from tests.harness import service_harness, settings_for_tests


def purchase(customer_id: str, when: datetime, amount: str, purchase_id: str | None = None) -> PurchaseRecorded:
    purchase_id = purchase_id or new_id()
    return PurchaseRecorded(customer_id=customer_id, purchase_id=purchase_id, order_id=f"o-{purchase_id}", amount=amount,
                            currency="CNY", occurred_at=when)


def refund(of: PurchaseRecorded, amount: str, when: datetime | None = None, *, fully: bool = False) -> PurchaseRefunded:
    return PurchaseRefunded(customer_id=of.customer_id, purchase_id=of.purchase_id, order_id=of.order_id,
                            refund_id=new_id(), amount=amount, refunded_total=amount, currency="CNY",
                            fully_refunded=fully, occurred_at=when or of.occurred_at + timedelta(days=1),
                            purchase_occurred_at=of.occurred_at)


def envelopes(payloads: list[EventPayload], *, backfill: bool = False) -> list[Envelope]:
    return [envelope_for(payload, source="/pulse/test", backfill=backfill) for payload in payloads]


async def deliver(harness, items: list[Envelope]) -> None:
    """Publishes on the service's bus; the in-process bus returns once the consumer committed."""
    topics = harness.context.settings.topics
    await harness.platform.bus.publish([to_message(envelope, topic_of(envelope.type, topics)) for envelope in items])


async def score_of(harness, customer_id: str, **params) -> dict:
    response = await harness.client.get(f"/v1/customers/{customer_id}/score", params=params, headers=harness.auth())
    assert response.status_code == 200, response.text
    return response.json()


async def refit_at_start_done(harness) -> None:
    """Waits for the scoring service's refit at start (on no buyers yet): run after a test's first
    events instead, it would re-score them on a calibrated population in some runs and not in
    others (its worker process takes seconds to start on a busy machine)."""
    for _ in range(600):
        if (await harness.client.get("/v1/models/clv", headers=harness.auth())).json()["in_use"] is not None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the refit at start did not finish within 30 s")


@asynccontextmanager
async def scoring_at(tmp_path, database_url, now: datetime) -> AsyncIterator:
    """The scoring service on a clock the test moves, once its refit at start is done."""
    settings = settings_for_tests(tmp_path, database_url=database_url)
    async with service_harness("scoring", settings, clock=ManualClock(now)) as harness:
        await refit_at_start_done(harness)
        yield harness
