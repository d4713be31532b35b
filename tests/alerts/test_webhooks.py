"""Webhooks to local receivers on 127.0.0.1: Standard Webhooks signatures verified with the
`standardwebhooks` package, retries with back-off in the delivery log, disabling and enabling,
pacing and batching, and the WeCom, DingTalk and Feishu robots' formats and signatures."""

import base64
import hashlib
import hmac
import json
import urllib.parse
from datetime import datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from services.common import catalog
from tests.alerts.conftest import alerts_service
from tests.alerts.receiver import local_receiver


async def add_webhook(alerts, **body) -> dict:
    answer = await alerts.client.post("/v1/webhooks", json=body, headers=alerts.auth())
    assert answer.status_code == 201, answer.text
    return answer.json()


async def breach(alerts, customer_id: str, complaint_id: str, *, in_seconds: float = 0) -> None:
    now = alerts.clock.now()
    snapshot = catalog.SlaMetricSnapshot(metric="resolution", state="running", breached=False,
                                         due_at=now + timedelta(seconds=in_seconds),
                                         consumed_seconds=60, target_seconds=60)
    await alerts.send(catalog.ComplaintOpened(customer_id=customer_id, complaint_id=complaint_id, status="open",
                                              priority="urgent", sla=[snapshot], changed_at=now))


async def deliveries(alerts, webhook_id: str) -> list[dict]:
    answer = await alerts.client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=alerts.auth())
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


async def received_after_pass(alerts, receiver) -> int:
    """Requests the receiver has got once every webhook pass at the clock's moment is done (the
    schedule runs passes too: counts are totals, not per pass)."""
    await alerts.deliver()
    return len(receiver.requests)


async def test_a_standard_receiver_verifies_the_signature_with_the_standardwebhooks_package(alerts):
    async with local_receiver() as receiver:
        created = await add_webhook(alerts, url=receiver.url + "/hooks?token=abc", alert_kinds=["sla_breached"],
                                    min_severity="warning")
        secret = created["secret"]
        assert secret.startswith("whsec_") and created["url"].endswith("/hooks?…")
        listed = (await alerts.client.get("/v1/webhooks", headers=alerts.auth())).json()["items"]
        assert "secret" not in listed[0] and secret not in json.dumps(listed)
        await breach(alerts, "c-1", "k-1")
        await alerts.advance(timedelta(0))
        await alerts.deliver()
        [request] = receiver.requests
        assert request.path == "/hooks" and request.query == "token=abc"
        event = Webhook(secret).verify(request.body, request.headers)
        assert event["type"] == "pulse.alert.sla_breached.v1" and event["data"]["facts"]["complaint_id"] == "k-1"
        assert request.headers["webhook-id"] == "msg_" + event["id"]
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(request.body.replace(b"k-1", b"k-2"), request.headers)
        stale = request.headers | {"webhook-timestamp": str(int(request.headers["webhook-timestamp"]) - 600)}
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(request.body, stale)
    [delivery] = await deliveries(alerts, created["id"])
    assert delivery["status"] == "delivered" and [t["outcome"] for t in delivery["tries"]] == ["delivered"]


async def test_subscriptions_by_kind_and_minimum_severity(alerts):
    async with local_receiver() as receiver:
        critical_only = await add_webhook(alerts, url=receiver.url, min_severity="critical")
        churn_only = await add_webhook(alerts, url=receiver.url, alert_kinds=["churn_risk"])
        now = alerts.clock.now()
        await alerts.send(catalog.TierChanged(customer_id="c-2", tier="medium", changed_at=now))
        await alerts.send(catalog.LifecycleChanged(customer_id="c-2", stage="at_risk", changed_at=now))  # warning
        await breach(alerts, "c-3", "k-3")
        await alerts.advance(timedelta(0))  # critical breach
    assert [d["event_type"] for d in await deliveries(alerts, critical_only["id"])] == ["pulse.alert.sla_breached.v1"]
    assert [d["event_type"] for d in await deliveries(alerts, churn_only["id"])] == ["pulse.alert.churn_risk.v1"]


async def test_a_failing_receiver_gets_retries_with_back_off_and_the_log_shows_each_try(alerts):
    async with local_receiver() as receiver:
        receiver.answer = lambda request: (503, b"{}") if len(receiver.requests) <= 3 else (200, b"{}")
        created = await add_webhook(alerts, url=receiver.url)
        queued = await alerts.client.post(f"/v1/webhooks/{created['id']}:test", headers=alerts.auth())
        assert queued.status_code == 202
        waits = []
        for number in range(1, 5):
            assert await received_after_pass(alerts, receiver) == number
            [delivery] = await deliveries(alerts, created["id"])
            if delivery["status"] == "delivered":
                break
            waits.append(delivery["next_attempt_at"])
            await alerts.advance(timedelta(seconds=1))
            assert await received_after_pass(alerts, receiver) == number  # not before its back-off is over
            await alerts.advance(timedelta(hours=1))
        assert len(receiver.requests) == 4 and len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    [delivery] = await deliveries(alerts, created["id"])
    assert delivery["status"] == "delivered" and delivery["attempts"] == 4
    assert [(t["number"], t["outcome"], t["status_code"]) for t in delivery["tries"]] == [
        (1, "http_error", 503), (2, "http_error", 503), (3, "http_error", 503), (4, "delivered", 200)]
    # Exponential back-off with jitter: after try n the wait is between half and all of 30 s · 2^(n-1).
    for number, (attempt, next_at) in enumerate(zip(delivery["tries"], waits), start=1):
        wait = (datetime.fromisoformat(next_at) - datetime.fromisoformat(attempt["attempted_at"])).total_seconds()
        assert 15 * 2 ** (number - 1) <= wait <= 30 * 2 ** (number - 1)


async def test_an_endpoint_failing_again_and_again_is_disabled_and_can_be_enabled(tmp_path, database_url):
    async with alerts_service(tmp_path, database_url, webhook_disable_after_failures=3) as alerts, local_receiver() as receiver:
        receiver.answer = lambda request: (500, b"{}")
        created = await add_webhook(alerts, url=receiver.url)
        for _ in range(3):
            await alerts.client.post(f"/v1/webhooks/{created['id']}:test", headers=alerts.auth())
            await alerts.deliver()
            await alerts.advance(timedelta(seconds=2))
        [webhook] = (await alerts.client.get("/v1/webhooks", headers=alerts.auth())).json()["items"]
        assert webhook["enabled"] is False and webhook["disabled_reason"] == "3 failed tries in a row"
        await alerts.advance(timedelta(days=1))
        assert await received_after_pass(alerts, receiver) == 3  # disabled: nothing is sent, nothing is lost
        receiver.answer = lambda request: (200, b"{}")
        enabled = await alerts.client.post(f"/v1/webhooks/{created['id']}:enable", headers=alerts.auth())
        assert enabled.json()["enabled"] is True and enabled.json()["consecutive_failures"] == 0
        assert await received_after_pass(alerts, receiver) == 6
        assert {d["status"] for d in await deliveries(alerts, created["id"])} == {"delivered"}


async def test_many_alerts_at_once_are_paced_per_endpoint_and_batched_for_robots(alerts):
    async with local_receiver() as receiver:
        standard = await add_webhook(alerts, url=receiver.url + "/standard", rate_per_minute=600)
        robot = await add_webhook(alerts, kind="wecom", url=receiver.url + "/wecom?key=k")
        assert robot["rate_per_minute"] == 20  # WeCom's documented limit
        for number in range(30):
            await breach(alerts, f"c-{number}", f"k-{number}", in_seconds=60)
        await alerts.advance(timedelta(seconds=60))  # 30 breaches in the same second
        assert await received_after_pass(alerts, receiver) == 10 + 1  # 600 a minute: 10 a second; the robot: one message of 10
        await alerts.deliver()
        assert await received_after_pass(alerts, receiver) == 11  # both wait for their rate
        await alerts.advance(timedelta(seconds=1))
        assert await received_after_pass(alerts, receiver) == 21
        for _ in range(3):
            await alerts.advance(timedelta(seconds=3))
            await alerts.deliver()
    by_path = {path: [r for r in receiver.requests if r.path == path] for path in ("/standard", "/wecom")}
    assert len(by_path["/standard"]) == 30 and len(by_path["/wecom"]) == 3
    ids = {json.loads(r.body)["data"]["customer_id"] for r in by_path["/standard"]}
    assert ids == {f"c-{number}" for number in range(30)}
    texts = "".join(json.loads(r.body)["markdown"]["content"] for r in by_path["/wecom"])
    assert all(f"customer: c-{number}\n" in texts for number in range(30))


async def test_chat_robots_get_their_documented_format_and_signature(alerts):
    async with local_receiver() as receiver:
        def robot(request):
            if request.path == "/dingtalk":
                query = urllib.parse.parse_qs(request.query)
                timestamp, secret = query["timestamp"][0], "SEC-ding"
                expected = base64.b64encode(hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest())
                ok = query["sign"][0] == expected.decode() and query["access_token"] == ["t"]
                return 200, json.dumps({"errcode": 0 if ok else 310000, "errmsg": "ok" if ok else "sign not match"}).encode()
            if request.path == "/feishu":
                body = json.loads(request.body)
                key = f"{body['timestamp']}\n{'fei-secret'}".encode()
                ok = body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
                return 200, json.dumps({"code": 0 if ok else 19021, "msg": "success" if ok else "sign match fail"}).encode()
            return 200, b'{"errcode":0,"errmsg":"ok"}'

        receiver.answer = robot
        hooks = [
            await add_webhook(alerts, kind="wecom", url=receiver.url + "/wecom?key=k"),
            await add_webhook(alerts, kind="dingtalk", url=receiver.url + "/dingtalk?access_token=t", secret="SEC-ding"),
            await add_webhook(alerts, kind="feishu", url=receiver.url + "/feishu", secret="fei-secret"),
            await add_webhook(alerts, kind="feishu", url=receiver.url + "/feishu", secret="wrong-secret"),
        ]
        assert all(hook["secret"] is None and hook["has_secret"] == (hook["kind"] != "wecom") for hook in hooks)
        await breach(alerts, "c-9", "k-9")
        await alerts.advance(timedelta(0))
        assert await received_after_pass(alerts, receiver) == 4
    bodies = {r.path: json.loads(r.body) for r in receiver.requests}
    assert bodies["/wecom"]["msgtype"] == "markdown" and "SLA breached" in bodies["/wecom"]["markdown"]["content"]
    assert bodies["/dingtalk"]["msgtype"] == "markdown" and "c-9" in bodies["/dingtalk"]["markdown"]["text"]
    assert bodies["/feishu"]["msg_type"] == "text" and "k-9" in bodies["/feishu"]["content"]["text"]
    outcomes = [(await deliveries(alerts, hook["id"]))[0]["tries"][0]["outcome"] for hook in hooks]
    assert outcomes == ["delivered", "delivered", "delivered", "rejected"]


async def test_webhook_input_problems(alerts):
    bad_kind = await alerts.client.post("/v1/webhooks", json={"url": "http://127.0.0.1:1", "kind": "slack"}, headers=alerts.auth())
    assert bad_kind.status_code == 422 and bad_kind.json()["errors"][0]["field"] == "kind"
    with_secret = await alerts.client.post("/v1/webhooks", json={"url": "http://127.0.0.1:1", "secret": "x"}, headers=alerts.auth())
    assert with_secret.status_code == 422 and with_secret.json()["errors"][0]["field"] == "secret"
    assert (await alerts.client.delete("/v1/webhooks/nope", headers=alerts.auth())).status_code == 404
    created = await add_webhook(alerts, url="http://127.0.0.1:1/x")
    assert (await alerts.client.delete(f"/v1/webhooks/{created['id']}", headers=alerts.auth())).status_code == 204
    assert (await alerts.client.get(f"/v1/webhooks/{created['id']}/deliveries", headers=alerts.auth())).status_code == 404
