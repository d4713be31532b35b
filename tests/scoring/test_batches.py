"""The scoring consumer's per-batch path, on SQLite and PostgreSQL: a batch of many customers'
events (with repeats, a merge, interactions and feedback) leaves the same state as the same events
applied one at a time, and a poison record in a batch is dead-lettered alone."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from services.common.catalog import CustomerCreated, CustomerMerged, FeedbackReceived, InteractionLogged, SurveyResponded
from services.common.clock import ManualClock
from services.common.delivery_tables import dead_letters
from services.scoring.models import customers
from tests.harness import service_harness, settings_for_tests
from tests.scoring.service_support import deliver, envelopes, purchase, refund, score_of, scoring_at

START = datetime(2026, 3, 1, tzinfo=UTC)
PEOPLE = ["b1", "b2", "b3", "b4"]


def day(days_ago: int) -> datetime:
    return START - timedelta(days=days_ago)


def journey() -> list:
    """Purchases, a refund, interactions, feedback and an answer for four customers; b4 is merged
    into b3 half way, and some of b4's events come after the merge."""
    bought = [purchase(person, day(100 - 7 * n - i), f"{10 + 3 * n + i}.50") for n in range(6) for i, person in enumerate(PEOPLE)]
    contacts = [InteractionLogged(customer_id=person, interaction_id=f"i-{person}-{n}", channel="call", direction="inbound",
                                  occurred_at=day(20 - n)) for n in range(3) for person in PEOPLE]
    feedback = [FeedbackReceived(customer_id=person, feedback_id=f"f-{person}", channel="web", sentiment="negative",
                                 received_at=day(5)) for person in PEOPLE[:3]]
    answer = SurveyResponded(customer_id="b2", response_id="r-1", survey_id="s", kind="nps", score=9, scale_min=0,
                             scale_max=10, answered_at=day(3))
    created = [CustomerCreated(customer_id=person, created_at=day(400)) for person in PEOPLE]
    merged = CustomerMerged(customer_id="b3", merged_customer_id="b4", moved_purchases=0, moved_interactions=0, merged_at=day(2))
    return [*created, *bought[:12], *contacts[:6], merged, *bought[12:], refund(bought[1], "5.00"), *contacts[6:],
            *feedback, answer]


async def state_of(harness) -> dict:
    cards = {}
    for person in PEOPLE[:3]:
        card = await score_of(harness, person)
        cards[person] = {key: value for key, value in card.items() if key != "model_fit_id"}
    async with harness.context.database.sessions() as session:
        rows = (await session.execute(sa.select(customers).order_by(customers.c.customer_id))).all()
    stats = (await harness.client.get("/v1/stats", headers=harness.auth())).json()
    return {"cards": cards, "customers": [dict(row._mapping) for row in rows],
            "stats": {key: stats[key] for key in ("customers", "purchases", "events_applied")}}


async def test_one_batch_leaves_the_state_that_one_event_at_a_time_leaves(tmp_path, database_url):
    events = envelopes(journey())
    states = []
    for way in ("one at a time", "in batches"):
        async with scoring_at(tmp_path / way.replace(" ", "-"), database_url, START) as harness:
            if way == "one at a time":
                for envelope in events:
                    await deliver(harness, [envelope])
            else:  # a batch per topic in one publish, with some events repeated within it
                await deliver(harness, events + events[::5])
            states.append(await state_of(harness))
    assert states[0] == states[1]
    assert states[0]["stats"] == {"customers": 3, "purchases": 24, "events_applied": len(events)}
    b3 = next(row for row in states[0]["customers"] if row["customer_id"] == "b3")
    assert b3["interactions"] == 6 and b3["negative_feedback"] == 1  # b4 had interactions but no feedback


async def test_a_customer_known_before_its_created_event_gets_its_creation_time(tmp_path, database_url):
    """customer.created is noted in the batch and written at its end; a survey answer before it, in
    the same batch or an earlier one, already made the customer's row without a creation time."""
    answer = SurveyResponded(customer_id="b5", response_id="r-5", survey_id="s", kind="nps", score=3, scale_min=0,
                             scale_max=10, answered_at=day(1))
    events = envelopes([answer, purchase("b5", day(2), "20.00"), CustomerCreated(customer_id="b5", created_at=day(30)),
                        CustomerCreated(customer_id="b6", created_at=day(40))])
    rows = []
    for way, batches in (("earlier", [events[:1], events[1:]]), ("same", [events])):
        settings = settings_for_tests(tmp_path / way, database_url=database_url)
        async with service_harness("scoring", settings, clock=ManualClock(START)) as harness:
            for batch in batches:
                await deliver(harness, batch)
            async with harness.context.database.sessions() as session:
                rows.append(dict((await session.execute(sa.select(customers.c.customer_id, customers.c.created_at)
                                                        .order_by(customers.c.customer_id))).all()))
    assert rows[0] == rows[1] == {"b5": day(30), "b6": day(40)}


@pytest.mark.parametrize("amount", ["not a number", "1e30"], ids=["fails in the handler", "fails in the batch's write"])
async def test_a_poison_record_in_a_batch_is_dead_lettered_and_the_others_applied_once(tmp_path, database_url, amount):
    settings = settings_for_tests(tmp_path, database_url=database_url)
    async with service_harness("scoring", settings, clock=ManualClock(START)) as harness:
        good = [purchase(person, day(30 + n), "20.00") for n in range(3) for person in PEOPLE]
        bad = purchase("b1", day(10), amount)
        await deliver(harness, envelopes([*good[:5], bad, *good[5:]]))
        stats = (await harness.client.get("/v1/stats", headers=harness.auth())).json()
        async with harness.context.database.sessions() as session:
            letters = await session.scalar(sa.select(sa.func.count()).select_from(dead_letters))
        card = await score_of(harness, "b1")
    assert letters == 1
    assert stats["purchases"] == len(good) and stats["events_applied"] == len(good)
    assert card["summary"]["frequency"] == 2 and card["summary"]["total_spend"] == 60.0
