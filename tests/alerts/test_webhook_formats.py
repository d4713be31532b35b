"""Webhook requests: Standard Webhooks signatures verified by the `standardwebhooks` package, and
the chat robots' formats and signatures checked against the platforms' documented algorithms."""

import base64
import hashlib
import hmac
import json
import random
import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from services.alerts.webhooks.chat import accepted, chat_request, dingtalk_sign, feishu_sign
from services.alerts.webhooks.retry import backoff_seconds
from services.alerts.webhooks.standard import new_secret, signed_request

EVENT = {"id": "e-1", "type": "pulse.alert.sla_breached.v1", "data": {
    "alert_id": "a-1", "kind": "sla_breached", "severity": "critical", "customer_id": "c-1",
    "due_at": "2026-03-02T13:00:00Z", "facts": {"complaint_id": "k-1", "metric": "resolution"}}}


def test_a_standard_webhook_verifies_with_the_standardwebhooks_package():
    secret = new_secret()
    now = datetime.now(UTC)
    request = signed_request("http://127.0.0.1/hook", secret, message_id="msg_1", payload=EVENT, at=now)
    assert Webhook(secret).verify(request.body, request.headers) == EVENT
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(request.body.replace(b"critical", b"info"), request.headers)
    old = signed_request("http://127.0.0.1/hook", secret, message_id="msg_1", payload=EVENT, at=now - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(old.body, old.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(request.body, request.headers)


def test_dingtalk_sign_follows_the_documented_python_sample():
    # The sample in DingTalk's "自定义机器人安全设置 / 加签" page, step by step.
    timestamp, secret = 1577262236757, "SECthis-is-secret"
    string_to_sign = "{}\n{}".format(timestamp, secret)
    hmac_code = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), digestmod=hashlib.sha256).digest()
    assert dingtalk_sign(secret, timestamp) == urllib.parse.quote_plus(base64.b64encode(hmac_code))
    request = chat_request("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=t", secret, [EVENT],
                           at=datetime.fromtimestamp(timestamp / 1000, UTC))
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query)
    assert query["access_token"] == ["t"] and query["timestamp"] == [str(timestamp)]
    assert query["sign"] == [base64.b64encode(hmac_code).decode()]  # the URL-decoded sign is the base64 digest
    body = json.loads(request.body)
    assert body["msgtype"] == "markdown" and set(body["markdown"]) == {"title", "text"}
    assert "SLA breached" in body["markdown"]["text"] and "c-1" in body["markdown"]["text"]


def test_feishu_sign_follows_the_documented_python_sample():
    # Feishu's "自定义机器人 / 签名校验" sample: the key is timestamp + "\n" + secret, the message empty.
    timestamp, secret = 1599360473, "demo-secret"
    key = f"{timestamp}\n{secret}".encode("utf-8")
    expected = base64.b64encode(hmac.new(key, "".encode("utf-8"), digestmod=hashlib.sha256).digest()).decode("utf-8")
    assert feishu_sign(secret, timestamp) == expected
    body = json.loads(chat_request("feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/x", secret, [EVENT],
                                   at=datetime.fromtimestamp(timestamp, UTC)).body)
    assert (body["timestamp"], body["sign"], body["msg_type"]) == (str(timestamp), expected, "text")
    assert "SLA breached" in body["content"]["text"] and "**" not in body["content"]["text"]


def test_wecom_markdown_and_unsigned_robots_keep_their_url():
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"
    request = chat_request("wecom", url, None, [EVENT, EVENT], at=datetime.now(UTC))
    body = json.loads(request.body)
    assert request.url == url and body["msgtype"] == "markdown"
    assert body["markdown"]["content"].startswith("Customer Pulse: 2 alerts")
    assert "sign" not in json.loads(chat_request("feishu", "https://f/x", None, [EVENT], at=datetime.now(UTC)).body)


def test_robots_refuse_with_an_error_code_in_a_200_answer():
    assert accepted("wecom", {"errcode": 0, "errmsg": "ok"}) and not accepted("dingtalk", {"errcode": 310000})
    assert accepted("feishu", {"code": 0, "msg": "success"}) and accepted("feishu", {"StatusCode": 0})
    assert not accepted("feishu", {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"})


def test_backoff_grows_exponentially_with_jitter_up_to_its_cap():
    rng = random.Random(7)
    waits = [backoff_seconds(attempt, base=30, cap=4 * 3600, rng=rng) for attempt in range(1, 13)]
    for attempt, wait in enumerate(waits, start=1):
        bound = min(4 * 3600, 30 * 2 ** (attempt - 1))
        assert bound / 2 <= wait <= bound
    assert sum(waits) > 8 * 3600  # twelve tries span hours
    assert len({backoff_seconds(3, base=30, cap=3600) for _ in range(20)}) > 1
