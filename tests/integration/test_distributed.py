"""The distributed run for real (issue 16, part 2): the four services as separate OS processes on the
suite's Kafka broker and PostgreSQL, two instances of scoring and two of alerts sharing their
partitions, walked through as an operator and a shop would:

- a customer buys, is scored and tiered, falls silent, turns `at_risk` at the moment the standard
  says, and a signed churn webhook reaches a receiver on 127.0.0.1;
- a complaint with a short SLA target breaches, the alert is published within a second of the
  deadline and its webhook follows;
- one scoring instance is killed with SIGKILL in the middle of a stream of purchases: the other takes
  its partitions over and every purchase is counted exactly once in the scores.

Scoring scores p_alive on whole days, so its churn moment is always a UTC midnight: the test moves
scoring's clock (and nothing else's) forward to three seconds before it (see movable_clock_service).
"""

import asyncio
import json
import os
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client.parser import text_string_to_metric_families
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from services.common import catalog
from tests.integration.distributed_stack import PARTITIONS, DistributedStack
from tests.integration.kafka_tools import read_topics

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]


# --- a webhook receiver on 127.0.0.1 -----------------------------------------------------------

class WebhookReceiver:
    """Records every POST (headers, body, arrival time) and answers 204."""

    def __init__(self):
        self.received: list[tuple[dict[str, str], bytes, datetime]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body, datetime.now(UTC)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def verified(self, secret: str, event_type: str, matches: Callable[[dict], bool]) -> list[tuple[dict, dict, datetime]]:
        """The received messages of that type whose data matches, each checked with the
        off-the-shelf Standard Webhooks verifier (which raises on a bad signature or timestamp)."""
        found = {}
        for headers, body, at in list(self.received):
            payload = json.loads(body)
            if payload["type"] == event_type and matches(payload["data"]):
                # At least once: a retry carries the same webhook-id, which receivers de-duplicate on.
                found.setdefault(headers["webhook-id"], (Webhook(secret).verify(body, headers), headers, at))
        return list(found.values())


@pytest.fixture(scope="module")
def receiver():
    receiver = WebhookReceiver()
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


# --- the stack -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stack(tmp_path_factory, postgres_server, kafka_bootstrap):
    stack = DistributedStack(tmp_path_factory.mktemp("distributed"), postgres_server, kafka_bootstrap)
    try:
        stack.services = stack.launch({"profiles": 1, "feedback": 1, "scoring": 2, "alerts": 2})
        stack.key = stack.admin_key()  # the operator's first key, made while the services start
        stack.wait_ready()
        yield stack
    finally:
        stack.stop()


def client(process, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=process.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


async def wait_for(probe: Callable[[], Awaitable], *, timeout: float, what: str, interval: float = 0.25):
    """Polls until the probe answers something truthy; fails naming what never came."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await probe()
        if found:
            return found
        await asyncio.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout} s")


async def score_of(scoring: httpx.AsyncClient, customer_id: str) -> dict | None:
    response = await scoring.get(f"/v1/customers/{customer_id}/score")
    return response.json() if response.status_code == 200 else None


async def new_customer(profiles: httpx.AsyncClient, external_id: str) -> str:
    response = await profiles.post("/v1/customers", json={"external_id": external_id, "name": "测试顾客"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def subscribe(alerts: httpx.AsyncClient, receiver: WebhookReceiver, kinds: list[str]) -> tuple[str, str]:
    response = await alerts.post("/v1/webhooks", json={"url": receiver.url, "alert_kinds": kinds})
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["secret"]


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def next_utc_midnight(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC) + timedelta(days=1)


# --- customer → purchases → score and tier → silence → lifecycle.changed → churn webhook -------

async def test_a_silent_customer_turns_at_risk_and_a_signed_churn_webhook_arrives(stack, receiver):
    scoring_a, scoring_b = (client(p, stack.key) for p in stack.services["scoring"])
    profiles, alerts = client(stack.services["profiles"][0], stack.key), client(stack.services["alerts"][0], stack.key)
    async with scoring_a, scoring_b, profiles, alerts:
        webhook_id, secret = await subscribe(alerts, receiver, ["churn_risk"])
        customer_id = await new_customer(profiles, f"e2e-churn-{stack.suffix}")
        today = datetime.now(UTC)
        for n, days_ago in enumerate((120, 90, 60, 30)):  # a regular buyer, silent for a month now
            response = await profiles.post("/v1/purchases", json={
                "order_id": f"churn-{stack.suffix}-{n}", "customer_id": customer_id, "amount": "300.00",
                "occurred_at": (today - timedelta(days=days_ago)).isoformat()})
            assert response.status_code == 201, response.text
        score = await wait_for(lambda: _with_periods(scoring_a, customer_id, 4), timeout=60, what="the purchases scored")
        assert score["stage"] == "active"

        # The operator's standard: tiers by CLV amount, and an at-risk line just under today's p_alive,
        # so that a day more of silence crosses it (p_alive falls some 0.004 a day for this buyer).
        at_risk_below = score["p_alive"] - 0.0005
        response = await scoring_a.put("/v1/evaluation-standard", json={
            "tiers": {"by": "amount", "high": 100.0, "medium": 50.0},
            "stages": {"at_risk_below": at_risk_below, "churned_below": 0.05}})
        assert response.status_code == 200, response.text
        version = response.json()["version"]
        for scoring in (scoring_a, scoring_b):  # the other instance picks the new standard up by itself
            await wait_for(lambda s=scoring: _standard_is(s, version), timeout=30, what="the new standard in use")
        score = await score_of(scoring_b, customer_id)
        assert (score["tier"], score["stage"]) == ("high", "active")
        churn_moment = parse(score["next_threshold_at"])
        assert churn_moment == next_utc_midnight(today), "p_alive is scored on whole days: the next crossing is at midnight"

        # Silence: scoring's clock jumps to three seconds before that moment; the churn timer does the rest.
        stack.move_scoring_clock(ahead_by=(churn_moment - timedelta(seconds=3) - datetime.now(UTC)).total_seconds())
        moved_at = datetime.now(UTC)

        def ours(data: dict) -> bool:
            return data["customer_id"] == customer_id

        [(event, headers, arrived)] = await wait_for(
            lambda: _async(receiver.verified(secret, catalog.ChurnRiskAlert.event_type, ours)), timeout=45,
            what="a signed churn_risk webhook")
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(json.dumps(event).encode() + b" ", headers)  # a changed body is refused
        data = event["data"]
        assert (data["kind"], data["severity"]) == ("churn_risk", "critical")
        assert data["facts"]["trigger"] == "stage"
        assert (data["facts"]["previous_stage"], data["facts"]["stage"], data["facts"]["tier"]) == ("active", "at_risk", "high")

        records = await read_topics(stack.kafka_bootstrap, [stack.topic("scores")], timeout=30,
                                    until=lambda r: bool(_lifecycle_changes(r, customer_id, "at_risk")))
        [change] = _lifecycle_changes(records, customer_id, "at_risk")
        assert change["previous_stage"] == "active"
        assert parse(change["changed_at"]) >= churn_moment  # in scoring's time: not a moment before the threshold
        [alert] = (await alerts.get("/v1/alerts", params={"customer_id": customer_id, "kind": "churn_risk"})).json()["items"]
        assert (alert["id"], alert["status"]) == (data["alert_id"], "open")
        print(f"churn webhook {(arrived - moved_at).total_seconds():.2f} s after the clock moved (3 s before the moment); "
              f"load average {os.getloadavg()[0]:.1f}")
        await alerts.delete(f"/v1/webhooks/{webhook_id}")


async def _with_periods(scoring: httpx.AsyncClient, customer_id: str, periods: int) -> dict | None:
    score = await score_of(scoring, customer_id)
    return score if score and score["summary"] and score["summary"]["frequency"] + 1 == periods else None


async def _standard_is(scoring: httpx.AsyncClient, version: int) -> bool:
    return (await scoring.get("/v1/evaluation-standard")).json()["version"] == version


async def _async(value):
    return value


def _lifecycle_changes(records, customer_id: str, stage: str) -> list[dict]:
    """The customer's moves to that stage, one per event id (delivery is at least once)."""
    found = {}
    for record in records:
        headers = dict(record.headers)
        data = json.loads(record.value)
        if headers["ce_type"].decode() == catalog.LifecycleChanged.event_type and data["customer_id"] == customer_id \
                and data["stage"] == stage:
            found[headers["ce_id"]] = data
    return list(found.values())


# --- complaint → short SLA target → alert.sla_breached within a second → webhook -----------------

async def test_a_complaint_past_its_short_target_breaches_within_a_second_and_its_webhook_arrives(stack, receiver):
    feedback, alerts = client(stack.services["feedback"][0], stack.key), client(stack.services["alerts"][1], stack.key)
    profiles = client(stack.services["profiles"][0], stack.key)
    async with feedback, alerts, profiles:
        webhook_id, secret = await subscribe(alerts, receiver, ["sla_breached"])
        response = await feedback.put("/v1/sla-policies", json={"default_priority": "normal", "policies": [
            {"id": "e2e-short", "position": 1, "default": True, "targets": {"first_response": {"normal": {"seconds": 8}}}}]})
        assert response.status_code == 200, response.text
        customer_id = await new_customer(profiles, f"e2e-sla-{stack.suffix}")
        response = await feedback.post("/v1/complaints", json={"customer_id": customer_id, "category": "delivery"})
        assert response.status_code == 201, response.text
        complaint_id = response.json()["id"]
        [metric] = [m for m in response.json()["sla"] if m["metric"] == "first_response"]
        due = parse(metric["due_at"])

        def ours(data: dict) -> bool:
            return data["facts"].get("complaint_id") == complaint_id

        [(event, _, arrived)] = await wait_for(
            lambda: _async(receiver.verified(secret, catalog.SlaBreachedAlert.event_type, ours)),
            timeout=(due - datetime.now(UTC)).total_seconds() + 20, what="a signed sla_breached webhook")
        data = event["data"]
        assert parse(data["due_at"]) == due
        assert timedelta(0) <= parse(data["detected_at"]) - due < timedelta(seconds=1), "the breach was not seen in time"

        records = await read_topics(stack.kafka_bootstrap, [stack.topic("alerts")], timeout=10,
                                    until=lambda r: any(_is_breach(record, complaint_id) for record in r))
        breaches = {dict(r.headers)["ce_id"]: r for r in records if _is_breach(r, complaint_id)}
        [published] = [datetime.fromtimestamp(r.timestamp / 1000, UTC) for r in breaches.values()]
        assert timedelta(0) <= published - due < timedelta(seconds=1), f"published {published - due} after the deadline"
        print(f"sla_breached published {(published - due).total_seconds():.3f} s and its webhook received "
              f"{(arrived - due).total_seconds():.3f} s after the deadline; load average {os.getloadavg()[0]:.1f}")
        await alerts.delete(f"/v1/webhooks/{webhook_id}")


def _is_breach(record, complaint_id: str) -> bool:
    data = json.loads(record.value)
    return data.get("kind") == "sla_breached" and data.get("facts", {}).get("complaint_id") == complaint_id


# --- kill -9 of one scoring instance in the middle of a stream of purchases ----------------------

CUSTOMERS = 8
PURCHASES_EACH = 30


async def test_kill_9_of_one_scoring_instance_mid_stream_counts_every_purchase_exactly_once(stack):
    victim, survivor = stack.services["scoring"]
    profiles = client(stack.services["profiles"][0], stack.key)
    scoring = client(survivor, stack.key)
    async with profiles, scoring:
        customers = [await new_customer(profiles, f"e2e-kill-{stack.suffix}-{n}") for n in range(CUSTOMERS)]
        partitioner = DefaultPartitioner()
        keyed_to = {partitioner(c.encode(), list(range(PARTITIONS)), list(range(PARTITIONS))) for c in customers}
        assert len(keyed_to) >= PARTITIONS - 1, "the customers should spread over (nearly) every partition"
        # Purchase j of every customer: a day of its own in the past, so each one is a purchase period.
        start = datetime.now(UTC) - timedelta(days=PURCHASES_EACH + 10)
        batches = [[{"order_id": f"kill-{stack.suffix}-{n}-{j}", "customer_id": customer, "amount": f"{10 + n}.{j:02d}",
                     "occurred_at": (start + timedelta(days=j)).isoformat()} for n, customer in enumerate(customers)]
                   for j in range(PURCHASES_EACH)]
        expected = {customer: sum(Decimal(batch[n]["amount"]) for batch in batches) for n, customer in enumerate(customers)}
        before = {p: await _purchases_consumed(p, stack.topic("purchases")) for p in (victim, survivor)}
        sent, killed = 0, asyncio.Event()

        async def stream() -> None:
            nonlocal sent
            for batch in batches:
                if sent == 2 * PURCHASES_EACH // 3:  # the last third goes after the kill, however slow the machine
                    await asyncio.wait_for(killed.wait(), timeout=120)
                response = await profiles.post("/v1/purchases:batch", json={"items": batch})
                assert response.status_code == 200, response.text
                assert response.json()["created"] == len(batch), response.text
                sent += 1
                await asyncio.sleep(0.2)

        streaming = asyncio.create_task(stream())
        try:
            # Both instances are consuming purchases (they share the partitions) when one dies.
            await wait_for(lambda: _both_consuming(victim, survivor, before, stack.topic("purchases")), timeout=90,
                           what="both scoring instances consuming the purchases")
            await wait_for(lambda: _async(sent >= PURCHASES_EACH // 3), timeout=90, what="a third of the stream sent")
            victim.kill()
            killed_after, killed_at = sent, time.monotonic()
            killed.set()
            await streaming
        finally:
            streaming.cancel()
        assert 0 < killed_after < PURCHASES_EACH, "the kill was not in the middle of the stream"

        async def all_counted():
            scores = [await score_of(scoring, customer) for customer in customers]
            return all(s and s["summary"] and s["summary"]["frequency"] + 1 == PURCHASES_EACH for s in scores) and scores

        scores = await wait_for(all_counted, timeout=120, what="every purchase in the survivor's scores")
        for customer, score in zip(customers, scores, strict=True):
            assert Decimal(str(score["summary"]["total_spend"])).quantize(Decimal("0.01")) == expected[customer], \
                "a purchase was lost or counted twice"
        print(f"kill -9 after {killed_after} of {PURCHASES_EACH} batches; all {CUSTOMERS * PURCHASES_EACH} purchases in the "
              f"survivor's scores {time.monotonic() - killed_at:.1f} s later; load average {os.getloadavg()[0]:.1f}")


async def _purchases_consumed(process, topic: str) -> float:
    text = httpx.get(f"{process.url}/metrics", timeout=10).text
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "pulse_events_consumed_total" and sample.labels.get("topic") == topic)


async def _both_consuming(victim, survivor, before: dict, topic: str) -> bool:
    return all([await _purchases_consumed(p, topic) > before[p] for p in (victim, survivor)])
