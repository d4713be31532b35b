"""Group robots of WeCom (企业微信), DingTalk (钉钉) and Feishu (飞书): a readable message in each
platform's documented format, signed as each documents when a secret is set.

- WeCom: POST {"msgtype": "markdown", "markdown": {"content": ...}}; no signing (the key is in the URL).
- DingTalk: POST {"msgtype": "markdown", "markdown": {"title", "text"}}; with a secret, the URL gets
  `timestamp` (ms) and `sign` = urlencode(base64(HMAC-SHA256(key=secret, msg=timestamp + "\\n" + secret))).
- Feishu: POST {"msg_type": "text", "content": {"text": ...}}; with a secret, the body gets
  `timestamp` (s) and `sign` = base64(HMAC-SHA256(key=timestamp + "\\n" + secret, msg="")).
Each answers HTTP 200 with an error code in the body when it refuses a message.
"""

import base64
import hashlib
import hmac
import json
from datetime import datetime
from urllib.parse import quote_plus

from services.alerts.webhooks.request import OutgoingRequest

CHAT_KINDS = ("wecom", "dingtalk", "feishu")
# Their documented limits: WeCom and DingTalk 20 messages a minute per robot, Feishu 100 a minute.
DOCUMENTED_RATE_PER_MINUTE = {"wecom": 20, "dingtalk": 20, "feishu": 100}
TITLES = {
    "churn_risk": "客户流失风险 Churn risk", "follow_up_due": "定期回访到期 Follow-up due",
    "sla_warning": "投诉时限预警 SLA warning", "sla_breached": "投诉超时 SLA breached",
    "detractor": "差评客户 Detractor", "acknowledged": "已确认 Acknowledged", "resolved": "已解决 Resolved",
    "test": "测试消息 Test",
}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def feishu_sign(secret: str, timestamp_s: int) -> str:
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def alert_lines(event: dict) -> list[str]:
    """One alert event as short lines: ids and the numbers that triggered it, no personal data."""
    data = event.get("data", {})
    kind = data.get("kind", "test")
    title = TITLES.get(kind, kind)
    if kind in ("acknowledged", "resolved"):
        title = f"{title}: {TITLES.get(data.get('alert_kind', ''), data.get('alert_kind', ''))}"
    lines = [f"**{title}** [{data.get('severity', 'info')}]", f"customer: {data.get('customer_id', '-')}"]
    if data.get("due_at"):
        lines.append(f"due: {data['due_at']}")
    facts = data.get("facts", {})
    lines += [f"{name}: {value}" for name, value in facts.items() if value is not None]
    lines.append(f"alert: {data.get('alert_id', '-')}")
    return lines


def message_text(events: list[dict]) -> str:
    blocks = ["\n".join(alert_lines(event)) for event in events]
    header = f"Customer Pulse: {len(events)} alerts\n\n" if len(events) > 1 else ""
    return header + "\n\n".join(blocks)


def chat_request(kind: str, url: str, secret: str | None, events: list[dict], *, at: datetime) -> OutgoingRequest:
    text = message_text(events)
    if kind == "wecom":
        body = {"msgtype": "markdown", "markdown": {"content": text}}
    elif kind == "dingtalk":
        body = {"msgtype": "markdown", "markdown": {"title": "Customer Pulse", "text": text.replace("\n", "\n\n")}}
        if secret:
            timestamp_ms = int(at.timestamp() * 1000)
            url = f"{url}{'&' if '?' in url else '?'}timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}"
    elif kind == "feishu":
        body = {"msg_type": "text", "content": {"text": text.replace("**", "")}}
        if secret:
            timestamp_s = int(at.timestamp())
            body = {"timestamp": str(timestamp_s), "sign": feishu_sign(secret, timestamp_s)} | body
    else:
        raise ValueError(f"not a chat kind: {kind}")
    encoded = json.dumps(body, ensure_ascii=False).encode()
    return OutgoingRequest(url=url, headers={"content-type": "application/json; charset=utf-8"}, body=encoded)


def accepted(kind: str, answer: dict) -> bool:
    """WeCom and DingTalk answer errcode 0; Feishu code 0 (older robots StatusCode 0)."""
    if kind == "feishu":
        return answer.get("code", answer.get("StatusCode")) == 0
    return answer.get("errcode") == 0
