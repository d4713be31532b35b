"""The alerts API: lists and filters, acknowledge and resolve by a person, rules versions, roles."""

from datetime import timedelta

from services.common import catalog


async def raise_churn(alerts, customer_id="c-1", tier="high"):
    now = alerts.clock.now()
    await alerts.send(catalog.TierChanged(customer_id=customer_id, tier=tier, changed_at=now))
    await alerts.send(catalog.LifecycleChanged(customer_id=customer_id, stage="at_risk", previous_stage="active", changed_at=now))
    answer = await alerts.client.get("/v1/alerts", params={"customer_id": customer_id}, headers=alerts.auth())
    [alert] = answer.json()["items"]
    return alert


async def test_a_person_acknowledges_then_resolves_with_who_when_and_a_note(alerts):
    alert = await raise_churn(alerts)
    agent = await alerts.key_for("agent")
    await alerts.advance(timedelta(minutes=5))
    answer = await alerts.client.post(f"/v1/alerts/{alert['id']}:acknowledge", json={"note": "calling them today"},
                                      headers=alerts.auth(agent))
    assert answer.status_code == 200, answer.text
    acknowledged = answer.json()
    assert acknowledged["status"] == "acknowledged" and acknowledged["note"] == "calling them today"
    assert acknowledged["acknowledged_at"] == alerts.clock.now().isoformat().replace("+00:00", "Z")
    again = await alerts.client.post(f"/v1/alerts/{alert['id']}:acknowledge", headers=alerts.auth(agent))
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "status"
    resolved = await alerts.client.post(f"/v1/alerts/{alert['id']}:resolve", headers=alerts.auth(agent))
    assert resolved.json()["status"] == "resolved" and resolved.json()["resolution"] == "manual"
    assert (await alerts.client.post(f"/v1/alerts/{alert['id']}:resolve", headers=alerts.auth(agent))).status_code == 409
    [ack_event] = await alerts.alert_events("pulse.alert.acknowledged.v1")
    [resolved_event] = await alerts.alert_events("pulse.alert.resolved.v1")
    assert ack_event.data["actor_id"] == resolved_event.data["actor_id"] == acknowledged["acknowledged_by"]
    assert "note" not in ack_event.data and "calling" not in str(ack_event.data)  # free text never on the bus
    # Resolved by a person: the same cause raises again, once the quiet period is over.
    await alerts.advance(timedelta(days=8))
    await alerts.send(catalog.LifecycleChanged(customer_id="c-1", stage="churned", previous_stage="at_risk", changed_at=alerts.clock.now()))
    found = (await alerts.client.get("/v1/alerts", params={"customer_id": "c-1"}, headers=alerts.auth())).json()["items"]
    assert [item["status"] for item in found] == ["resolved", "open"]


async def test_roles_analysts_read_without_notes_and_only_managers_change_rules_and_webhooks(alerts):
    alert = await raise_churn(alerts)
    await alerts.client.post(f"/v1/alerts/{alert['id']}:acknowledge", json={"note": "private"}, headers=alerts.auth())
    analyst = await alerts.key_for("analyst")
    agent = await alerts.key_for("agent")
    seen = await alerts.client.get(f"/v1/alerts/{alert['id']}", headers=alerts.auth(analyst))
    assert seen.status_code == 200 and seen.json()["note"] is None
    assert (await alerts.client.post(f"/v1/alerts/{alert['id']}:resolve", headers=alerts.auth(analyst))).status_code == 403
    assert (await alerts.client.put("/v1/alert-rules", json={}, headers=alerts.auth(agent))).status_code == 403
    assert (await alerts.client.get("/v1/webhooks", headers=alerts.auth(agent))).status_code == 403
    assert (await alerts.client.get("/v1/alerts")).status_code == 401


async def test_filters_cursor_and_problems(alerts):
    for number in range(3):
        await raise_churn(alerts, customer_id=f"c-{number}", tier="high" if number else "medium")
    critical = (await alerts.client.get("/v1/alerts", params={"severity": "critical"}, headers=alerts.auth())).json()["items"]
    assert sorted(alert["customer_id"] for alert in critical) == ["c-1", "c-2"]
    first = (await alerts.client.get("/v1/alerts", params={"limit": 2}, headers=alerts.auth())).json()
    rest = (await alerts.client.get("/v1/alerts", params={"cursor": first["next_cursor"]}, headers=alerts.auth())).json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None
    bad = await alerts.client.get("/v1/alerts", params={"status": "closed"}, headers=alerts.auth())
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    missing = await alerts.client.post("/v1/alerts/nope:acknowledge", headers=alerts.auth())
    assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "alert_id"


async def test_rules_are_versioned_and_the_new_version_is_used(alerts):
    defaults = (await alerts.client.get("/v1/alert-rules", headers=alerts.auth())).json()
    assert defaults["version"] == 0 and defaults["rules"]["follow_up_due"]["interval_days"] == {"high": 30, "medium": 90}
    rules = defaults["rules"]
    rules["churn_risk"]["tiers"] = ["high", "medium", "low"]
    stored = await alerts.client.put("/v1/alert-rules", json=rules, headers=alerts.auth())
    assert stored.status_code == 200 and stored.json()["version"] == 1
    bad = await alerts.client.put("/v1/alert-rules", json={"churn_risk": {"p_alive_below": 2}}, headers=alerts.auth())
    assert bad.status_code == 422 and "p_alive_below" in bad.text
    alert = await raise_churn(alerts, customer_id="c-low", tier="low")
    assert (alert["rule_version"], alert["severity"]) == (1, "info")
