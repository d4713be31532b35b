"""End to end on a real Kafka broker: purchases posted to profiles reach the customer's score,
a refund lowers it, replayed and reordered events change nothing, and a silent customer's stage
moves reach Kafka once each."""

import json
from datetime import datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer

from services.common.clock import ManualClock
from services.common.timeutil import utcnow
from tests.harness import service_harness, settings_for_tests
from tests.integration.kafka_tools import eventually, read_topics
from tests.scoring.service_support import refit_at_start_done

pytestmark = pytest.mark.kafka


async def score(scoring, customer_id: str) -> dict | None:
    response = await scoring.client.get(f"/v1/customers/{customer_id}/score", headers=scoring.auth())
    return response.json() if response.status_code == 200 else None


async def applied(scoring) -> int:
    return (await scoring.client.get("/v1/stats", headers=scoring.auth())).json()["events_applied"]


async def replay_reversed(bootstrap: str, records: list) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for record in reversed(records):
            await producer.send_and_wait(record.topic, record.value, key=record.key, headers=list(record.headers))
    finally:
        await producer.stop()


async def test_purchases_posted_to_profiles_reach_the_score_on_kafka(tmp_path, kafka_bootstrap):
    now = utcnow().replace(microsecond=0)
    clock = ManualClock(now)
    common = dict(bus="kafka", kafka_bootstrap=kafka_bootstrap)
    async with service_harness("profiles", settings_for_tests(tmp_path / "profiles", **common)) as profiles, \
            service_harness("scoring", settings_for_tests(tmp_path / "scoring", **common), clock=clock) as scoring:
        await refit_at_start_done(scoring)
        customer_id = (await profiles.client.post("/v1/customers", json={"name": "林一"}, headers=profiles.auth())).json()["id"]
        purchases = []
        for number, days in enumerate((60, 40, 20)):
            body = {"order_id": f"kj-{customer_id}-{number}", "customer_id": customer_id, "amount": "100.00",
                    "occurred_at": (now - timedelta(days=days)).isoformat()}
            purchases.append((await profiles.client.post("/v1/purchases", json=body, headers=profiles.auth())).json())

        async def three_periods() -> bool:
            card = await score(scoring, customer_id)
            return card is not None and card["summary"] is not None and card["summary"]["frequency"] == 2

        assert await eventually(three_periods, timeout=30)
        before = await score(scoring, customer_id)

        refund = {"refund_id": f"r-{customer_id}", "amount": "60.00", "occurred_at": now.isoformat()}
        assert (await profiles.client.post(f"/v1/purchases/{purchases[2]['id']}/refunds", json=refund,
                                           headers=profiles.auth())).status_code == 201

        async def lowered() -> bool:
            return (await score(scoring, customer_id))["clv"] < before["clv"]

        assert await eventually(lowered, timeout=30)
        after_refund = await score(scoring, customer_id)
        events_before_replay = await applied(scoring)

        records = await read_topics(kafka_bootstrap, ["pulse.purchases"],
                                    until=lambda rs: sum(r.key == customer_id.encode() for r in rs) >= 4, timeout=30)
        await replay_reversed(kafka_bootstrap, [r for r in records if r.key == customer_id.encode()])

        async def replay_read() -> bool:
            return duplicates_seen(scoring) >= 4

        assert await eventually(replay_read, timeout=30)
        assert await applied(scoring) == events_before_replay
        assert await score(scoring, customer_id) == after_refund

        stage_moves = []
        for _ in range(2):
            due = datetime.fromisoformat((await score(scoring, customer_id))["next_threshold_at"])
            clock.set(due)

            async def moved(previous=len(stage_moves)) -> bool:
                return len(await stage_changes(scoring, customer_id)) > previous

            assert await eventually(moved, timeout=10)
            stage_moves = await stage_changes(scoring, customer_id)

        def both_on_kafka(rs) -> bool:
            return len(lifecycle_stages(rs, customer_id)) >= 4

        scores_topic = await read_topics(kafka_bootstrap, ["pulse.scores"], until=both_on_kafka, timeout=30)
    stages = lifecycle_stages(scores_topic, customer_id)
    assert stages.count("at_risk") == 1 and stages.count("churned") == 1 and stages[-2:] == ["at_risk", "churned"]


def duplicates_seen(scoring) -> float:
    counter = scoring.context.metrics.events_consumed
    return sum(sample.value for metric in counter.collect() for sample in metric.samples
               if sample.name.endswith("_total") and sample.labels.get("outcome") == "duplicate")


async def stage_changes(scoring, customer_id: str) -> list[str]:
    history = (await scoring.client.get(f"/v1/customers/{customer_id}/score/history", headers=scoring.auth())).json()
    return [change["stage"] for change in history if change["stage"] in ("at_risk", "churned")]


def lifecycle_stages(records, customer_id: str) -> list[str]:
    stages = []
    for record in records:
        headers = dict(record.headers)
        if record.key == customer_id.encode() and headers.get("ce_type") == b"pulse.lifecycle.changed.v1":
            stages.append(json.loads(record.value)["stage"])
    return stages
