"""The scoring service fed catalog events on the in-process bus, on SQLite and PostgreSQL."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from services.common.clock import ManualClock
from services.scoring.calibrations import rescore_everyone
from tests.harness import service_harness, settings_for_tests
from tests.scoring.service_support import deliver, envelopes, purchase, refit_at_start_done, refund, score_of, scoring_at

START = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
async def scoring(tmp_path, database_url):
    async with scoring_at(tmp_path, database_url, START) as harness:
        yield harness


def history_of(customer_id: str, days: list[int], amounts: list[str]):
    return [purchase(customer_id, START - timedelta(days=d), a) for d, a in zip(days, amounts)]


async def test_purchases_sent_as_events_show_in_the_score(scoring):
    await deliver(scoring, envelopes(history_of("c1", [100, 60, 30], ["10.00", "20.00", "30.00"])))
    card = await score_of(scoring, "c1")
    assert card["summary"]["frequency"] == 2 and card["summary"]["recency"] == 70 and card["summary"]["T"] == 100
    assert card["summary"]["monetary"] == 25.0
    assert 0 < card["p_alive"] <= 1 and card["clv"] > 0 and card["stage"] == "active"
    assert set(card["expected_purchases"]) == {"30", "90", "365"}


async def test_a_refund_lowers_the_value_and_a_full_refund_removes_the_period(scoring):
    bought = history_of("c2", [90, 40, 10], ["50.00", "50.00", "80.00"])
    await deliver(scoring, envelopes(bought))
    before = await score_of(scoring, "c2")
    await deliver(scoring, envelopes([refund(bought[2], "40.00")]))
    partly = await score_of(scoring, "c2")
    assert partly["summary"]["monetary"] < before["summary"]["monetary"] and partly["clv"] < before["clv"]
    await deliver(scoring, envelopes([refund(bought[2], "40.00", fully=True)]))
    fully = await score_of(scoring, "c2")
    assert fully["summary"]["frequency"] == 1 and fully["summary"]["recency"] == 50


async def test_duplicated_and_reordered_events_change_nothing(tmp_path, database_url):
    bought = history_of("c3", [200, 120, 119, 45, 5], ["12.50", "7.25", "0.00", "99.99", "31.00"])
    events = [*bought, refund(bought[1], "7.25", fully=True), refund(bought[3], "9.99")]
    cards = []
    for order in range(3):
        shuffled = envelopes(events)
        random.Random(order).shuffle(shuffled)
        settings = settings_for_tests(tmp_path / str(order), database_url=database_url if order == 0 else "")
        async with service_harness("scoring", settings, clock=ManualClock(START)) as harness:
            await deliver(harness, shuffled + shuffled[:3])  # the first three delivered twice
            card = await score_of(harness, "c3")
            stats = (await harness.client.get("/v1/stats", headers=harness.auth())).json()
        assert stats["events_applied"] == len(events) and stats["purchases"] == len(bought)
        cards.append({key: value for key, value in card.items() if key != "model_fit_id"})
    assert cards[0] == cards[1] == cards[2]
    assert cards[0]["summary"]["frequency"] == 3


async def test_a_silent_customer_moves_to_at_risk_then_churned_at_the_computed_moments(scoring):
    await deliver(scoring, envelopes(history_of("c4", [40, 30, 20, 10], ["10.00"] * 4)))
    card = await score_of(scoring, "c4")
    assert card["stage"] == "active"
    for expected_stage in ("at_risk", "churned"):
        due = datetime.fromisoformat(card["next_threshold_at"])
        scoring.clock.set(due - timedelta(seconds=1))
        await scoring.fire_due_timers()
        assert (await score_of(scoring, "c4"))["stage"] != expected_stage
        scoring.clock.set(due)
        await scoring.fire_due_timers()
        card = await score_of(scoring, "c4")
        assert card["stage"] == expected_stage
    assert card["next_threshold_at"] is None
    await scoring.drain_outbox()
    moves = [e.data["stage"] for e in scoring.recorder.events("pulse.lifecycle.changed.v1") if e.subject == "c4"]
    assert moves == ["new", "active", "at_risk", "churned"] or moves == ["active", "at_risk", "churned"]
    assert moves.count("at_risk") == 1 and moves.count("churned") == 1


async def test_a_purchase_after_churn_is_a_reactivation(scoring):
    await deliver(scoring, envelopes(history_of("c5", [400, 390, 380], ["10.00"] * 3)))
    assert (await score_of(scoring, "c5"))["stage"] in ("at_risk", "churned")
    await deliver(scoring, envelopes([purchase("c5", START, "10.00")]))
    assert (await score_of(scoring, "c5"))["stage"] == "active"
    await scoring.drain_outbox()
    last = [e for e in scoring.recorder.events("pulse.lifecycle.changed.v1") if e.subject == "c5"][-1]
    assert last.data["stage"] == "active" and last.data["reactivated"] is True


async def test_the_health_explanation_adds_up_to_the_score(scoring):
    await deliver(scoring, envelopes(history_of("c6", [50, 20], ["10.00", "15.00"])))
    health = (await score_of(scoring, "c6"))["health"]
    assert health["score"] == pytest.approx(sum(i["contribution"] for i in health["indicators"]), abs=1e-9)
    assert "satisfaction" in health["left_out"]


async def test_a_new_standard_rescores_everyone_and_the_scores_name_it(scoring):
    for customer in ("c7", "c8"):
        await deliver(scoring, envelopes(history_of(customer, [60, 30], ["10.00", "20.00"])))
    body = {"weights": {"activity": 0.5, "loyalty": 0.5}}
    response = await scoring.client.put("/v1/evaluation-standard", json=body, headers=scoring.auth())
    assert response.status_code == 200 and response.json()["version"] == 2
    listed = (await scoring.client.get("/v1/scores", headers=scoring.auth())).json()["items"]
    assert {item["customer_id"] for item in listed} == {"c7", "c8"}
    assert all(item["standard_version"] == 2 for item in listed)
    assert (await score_of(scoring, "c7"))["health"]["standard_version"] == 2


async def test_a_bad_standard_is_refused_naming_the_field(scoring):
    body = {"weights": {"value": 0.9, "activity": 0.5}}
    response = await scoring.client.put("/v1/evaluation-standard", json=body, headers=scoring.auth())
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "weights"
    analyst = await scoring.key_for("analyst")
    refused = await scoring.client.put("/v1/evaluation-standard", json={}, headers=scoring.auth(analyst))
    assert refused.status_code == 403


async def test_a_new_standard_re_scores_everyone_once_in_batches_in_flight_together(tmp_path, database_url):
    # Batches of 4 in 3 lanes (PostgreSQL; SQLite takes one lane): each customer once, none left out.
    settings = settings_for_tests(tmp_path, database_url=database_url)
    async with service_harness("scoring", settings, clock=ManualClock(START), scoring_rescore_batch=4,
                               scoring_rescore_lanes=3) as scoring:
        await refit_at_start_done(scoring)
        names = [f"m{n:02d}" for n in range(23)]
        await deliver(scoring, envelopes([p for name in names for p in history_of(name, [60, 30], ["10.00", "20.00"])]))
        response = await scoring.client.put("/v1/evaluation-standard", json={"weights": {"activity": 0.5, "loyalty": 0.5}},
                                            headers=scoring.auth())
        assert response.status_code == 200
        assert await rescore_everyone(scoring.context, reason="standard") == len(names)
        listed = (await scoring.client.get("/v1/scores", params={"limit": 100}, headers=scoring.auth())).json()["items"]
        assert sorted(item["customer_id"] for item in listed) == names
        assert {item["standard_version"] for item in listed} == {2}
