"""Merges, erasure, backfills, the model's status and the period report, on the in-process bus."""

import asyncio
import csv
import io
import random
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import sqlalchemy as sa

from services.common.catalog import (
    ComplaintOpened, ComplaintResolved, ComplaintUpdated, CustomerErased, CustomerMerged, LifecycleChanged, ScoreUpdated,
    SlaMetricSnapshot, SurveyResponded, TierChanged,
)
from services.common.clock import ManualClock
from services.scoring.models import purchase_lines
from services.scoring.scores.scorecard import day_number, moment_of
from tests.harness import embedded_harness, service_harness, settings_for_tests
from tests.scoring.service_support import deliver, envelopes, purchase, refund, score_of, scoring_at

START = datetime(2026, 3, 1, tzinfo=UTC)
TODAY = int(day_number(START))


@pytest.fixture
async def scoring(tmp_path, database_url):
    async with scoring_at(tmp_path, database_url, START) as harness:
        yield harness


def days_ago(days: int) -> datetime:
    return START - timedelta(days=days)


def merge(survivor: str, duplicate: str) -> CustomerMerged:
    return CustomerMerged(customer_id=survivor, merged_customer_id=duplicate, moved_purchases=0, moved_interactions=0,
                          merged_at=days_ago(1))


def merge_story():
    survivor = [purchase("s", days_ago(d), "10.00") for d in (100, 50)]
    duplicate = [purchase("d", days_ago(d), "30.00") for d in (80, 20)]
    answer = SurveyResponded(customer_id="d", response_id="r1", survey_id="nps", kind="nps", score=9, scale_min=0,
                             scale_max=10, answered_at=days_ago(3))
    return [*survivor, *duplicate, refund(duplicate[0], "10.00"), answer, merge("s", "d")]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_merge_folds_the_duplicates_history_into_the_survivor_in_any_order(tmp_path, seed):
    events = envelopes(merge_story())
    cards = []
    for attempt, order in enumerate((list(events), random.Random(seed).sample(events, len(events)))):
        settings = settings_for_tests(tmp_path / str(attempt))
        async with service_harness("scoring", settings, clock=ManualClock(START)) as harness:
            await deliver(harness, order)
            cards.append(await score_of(harness, "s"))
            assert (await score_of(harness, "d"))["customer_id"] == "s"
    assert cards[0] == cards[1]
    assert cards[0]["summary"]["frequency"] == 3 and cards[0]["summary"]["total_spend"] == 70.0
    assert cards[0]["health"]["indicators"][3]["raw"]["nps"] == 9


async def test_an_erased_customer_keeps_the_numbers(scoring):
    await deliver(scoring, envelopes([purchase("e", days_ago(d), "10.00") for d in (30, 10)]))
    before = await score_of(scoring, "e")
    await deliver(scoring, envelopes([CustomerErased(customer_id="e", erased_at=START)]))
    assert await score_of(scoring, "e") == before


async def test_events_made_by_a_backfill_are_marked(scoring):
    await deliver(scoring, envelopes([purchase("b", days_ago(d), "10.00") for d in (300, 200)], backfill=True))
    await deliver(scoring, envelopes([purchase("l", days_ago(d), "10.00") for d in (30, 20)]))
    await scoring.drain_outbox()
    made = scoring.recorder.events()
    assert {e.subject for e in made if e.backfill} == {"b"} and {e.subject for e in made if not e.backfill} == {"l"}


async def test_below_the_minimum_population_the_priors_are_used_and_the_status_says_so(scoring):
    await deliver(scoring, envelopes([purchase("p", days_ago(d), "10.00") for d in (30, 10)]))
    response = await scoring.client.post("/v1/models/clv:refit", headers=scoring.auth())
    assert response.status_code == 200
    in_use = response.json()["in_use"]
    assert in_use["status"] == "priors" and "need at least 200" in in_use["message"] and in_use["population"] == 1
    assert in_use["parameters"] == {"r": 0.243, "alpha": 30.9, "a": 0.793, "b": 2.426}
    assert (await score_of(scoring, "p"))["clv_interval"] is None
    analyst = await scoring.key_for("analyst")
    assert (await scoring.client.post("/v1/models/clv:refit", headers=scoring.auth(analyst))).status_code == 403


async def test_the_period_report_as_json_and_csv(scoring):
    await deliver(scoring, envelopes([purchase("r", days_ago(d), "10.00") for d in (40, 20, 5)]))
    period = {"from": (START - timedelta(days=30)).isoformat(), "to": (START + timedelta(days=1)).isoformat()}
    report = (await scoring.client.get("/v1/reports/summary", params=period, headers=scoring.auth())).json()
    assert report["sales"]["orders"] == 2 and report["sales"]["revenue"] == 20.0
    assert report["sales"]["repeat_purchase_rate"] == 1.0
    as_csv = await scoring.client.get("/v1/reports/summary", params=period, headers=scoring.auth() | {"Accept": "text/csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert rows[0] == ["section", "name", "value"] and ["sales", "orders", "2"] in rows
    backwards = await scoring.client.get("/v1/reports/summary", params={"from": period["to"], "to": period["from"]},
                                         headers=scoring.auth())
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "to"


def complaint(kind, complaint_id: str, when: datetime, **measured: float):
    """A complaint event whose SLA clocks named in `measured` (metric → seconds) are fulfilled."""
    clocks = [SlaMetricSnapshot(metric=metric, state="fulfilled", breached=False, consumed_seconds=seconds, target_seconds=3600)
              for metric, seconds in measured.items()]
    clocks.append(SlaMetricSnapshot(metric="next_response", state="fulfilled", breached=False, consumed_seconds=9, target_seconds=60))
    return kind(customer_id="r", complaint_id=complaint_id, status="resolved" if kind is ComplaintResolved else "open",
                priority="high", sla=clocks, changed_at=when)


async def test_the_period_report_has_the_median_complaint_response_and_resolution_times(scoring):
    events = [
        complaint(ComplaintOpened, "k1", days_ago(10)), complaint(ComplaintUpdated, "k1", days_ago(9), first_response=600),
        complaint(ComplaintResolved, "k1", days_ago(8), first_response=600, resolution=7200),
        complaint(ComplaintOpened, "k2", days_ago(7)), complaint(ComplaintUpdated, "k2", days_ago(6), first_response=1800),
        complaint(ComplaintOpened, "k3", days_ago(5)), complaint(ComplaintUpdated, "k3", days_ago(5), first_response=60),
        complaint(ComplaintResolved, "k3", days_ago(4), first_response=60, resolution=3600),
        complaint(ComplaintOpened, "k0", days_ago(60)),  # before the period: counts for nothing
        complaint(ComplaintResolved, "k0", days_ago(50), first_response=5, resolution=5),
    ]
    random.Random(3).shuffle(events)  # the latest change wins whatever the arrival order
    await deliver(scoring, envelopes(events))
    period = {"from": (START - timedelta(days=30)).isoformat(), "to": START.isoformat()}
    report = (await scoring.client.get("/v1/reports/summary", params=period, headers=scoring.auth())).json()
    assert report["complaints"] == {"opened": 3, "resolved": 2, "sla_compliance": 1.0,
                                    "median_first_response_seconds": 600, "median_resolution_seconds": 5400}


async def test_a_refit_on_the_same_purchases_publishes_nothing_new(scoring):
    await deliver(scoring, envelopes([purchase(f"q{n}", days_ago(d), "10.00") for n in range(5) for d in (60 + n, 9)]))
    assert (await scoring.client.post("/v1/models/clv:refit", headers=scoring.auth())).status_code == 200
    await scoring.drain_outbox()
    published = len(scoring.recorder.messages)
    assert (await scoring.client.post("/v1/models/clv:refit", headers=scoring.auth())).status_code == 200
    await scoring.drain_outbox()
    assert len(scoring.recorder.messages) == published


async def test_the_embedded_stack_scores_what_profiles_records(tmp_path):
    async with embedded_harness(settings_for_tests(tmp_path)) as stack:
        profiles, scoring = stack["profiles"], stack["scoring"]
        customer = (await profiles.client.post("/v1/customers", json={"name": "王五"}, headers=profiles.auth())).json()
        now = datetime.now(UTC)
        for number, days in enumerate((30, 10)):
            body = {"order_id": f"emb-{number}", "customer_id": customer["id"], "amount": "88.00",
                    "occurred_at": (now - timedelta(days=days)).isoformat()}
            assert (await profiles.client.post("/v1/purchases", json=body, headers=profiles.auth())).status_code == 201
        await profiles.drain_outbox()
        card = await score_of(scoring, customer["id"])
        assert card["summary"]["frequency"] == 1 and card["stage"] == "active"
        # Tiers are percentiles of the calibrated population: rated from the first calibration with buyers.
        assert card["tier"] == "unrated"
        assert (await scoring.client.post("/v1/models/clv:refit", headers=scoring.auth())).status_code == 200
        assert (await score_of(scoring, customer["id"]))["tier"] != "unrated"


async def model_in_use(scoring) -> dict | None:
    return (await scoring.client.get("/v1/models/clv", headers=scoring.auth())).json()["in_use"]


async def test_while_the_priors_are_in_use_new_buyers_bring_a_refit_and_tiers(scoring):
    while await model_in_use(scoring) is None:  # the refit at start, on no buyers
        await asyncio.sleep(0.05)
    await deliver(scoring, envelopes([purchase(f"t{n}", days_ago(d), f"{10 * (n + 1)}.00") for n in range(4) for d in (40, 9)]))
    assert (await score_of(scoring, "t3"))["tier"] == "unrated"
    assert await scoring.context.jobs.run_now("refit")
    status = await model_in_use(scoring)
    assert status["status"] == "priors" and status["population"] == 4
    assert (await score_of(scoring, "t3"))["tier"] == "high"
    assert await scoring.context.jobs.run_now("refit")
    assert (await model_in_use(scoring))["id"] == status["id"]  # the same buyers: no refit


async def test_segments_page_by_cursor_best_first_and_filter(scoring):
    await deliver(scoring, envelopes([purchase(f"g{n}", days_ago(d), f"{10 * (n + 1)}.00") for n in range(5) for d in (50, 8)]))
    await deliver(scoring, envelopes([purchase("g-lapsed", days_ago(d), "10.00") for d in (700, 690)]))
    seen, cursor = [], None
    while True:
        params = {"order_by": "clv", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await scoring.client.get("/v1/scores", params=params, headers=scoring.auth())).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 6 and len({item["customer_id"] for item in seen}) == 6
    values = [item["clv"] for item in seen]
    assert values == sorted(values, reverse=True)
    active = (await scoring.client.get("/v1/scores", params={"stage": "active", "max_p_alive": 1},
                                       headers=scoring.auth())).json()["items"]
    assert {item["customer_id"] for item in active} == {f"g{n}" for n in range(5)}
    bad = await scoring.client.get("/v1/scores", params={"cursor": "not-ours"}, headers=scoring.auth())
    assert bad.status_code == 400


async def test_a_fit_that_did_not_converge_is_stored_but_not_used(scoring):
    # 300 buyers whose purchases fall on a regular lattice of days: neither model's fit converges on them.
    lines = [{"kind": "purchase", "line_id": f"nc-{c}-{n}", "customer_id": f"nc{c}", "purchase_id": f"nc-{c}-{n}",
              "day": TODAY - (c + n * 37) % 700, "units": (10 + (c * 7 + n * 13) % 90) * 10_000,
              "occurred_at": moment_of(TODAY - (c + n * 37) % 700)} for c in range(300) for n in range(5)]
    async with scoring.database.transaction() as session:
        await session.execute(sa.insert(purchase_lines), lines)
    status = (await scoring.client.post("/v1/models/clv:refit", headers=scoring.auth())).json()
    failed = status["latest"]
    assert failed["status"] == "not_converged" and not failed["in_use"] and failed["population"] == 300
    assert status["in_use"] is None or status["in_use"]["id"] != failed["id"]
    assert scoring.context.in_use.calibration.fit_id != failed["id"]


async def test_the_score_events_are_byte_for_byte_what_their_models_write(scoring):
    # Scoring builds its events' JSON directly, not through the models: whatever it writes must be
    # what the model would (field names and order, times in UTC as Z, plain numbers, no nulls).
    while await model_in_use(scoring) is None:
        await asyncio.sleep(0.05)
    bought = [purchase(f"e{n}", days_ago(d), f"{10 * (n + 1)}.50") for n in range(4) for d in (40, 9)]
    await deliver(scoring, envelopes(bought))
    await deliver(scoring, envelopes([purchase("e-old", days_ago(d), "10.00") for d in (300, 200)], backfill=True))
    await deliver(scoring, envelopes([refund(bought[1], "5.00")]))
    assert await scoring.context.jobs.run_now("refit")  # tiers for the four buyers
    await scoring.drain_outbox()
    models = {model.event_type: model for model in (ScoreUpdated, TierChanged, LifecycleChanged)}
    made = [(message, event) for message, event in zip(scoring.recorder.messages, scoring.recorder.events()) if event.type in models]
    assert {event.type for _, event in made} == set(models) and any(event.backfill for _, event in made)
    for message, event in made:
        assert message.value == orjson.dumps(models[event.type].model_validate(event.data).model_dump(mode="json", exclude_none=True))
