"""The rules at work in the service, with a clock the tests move: churn, follow-up, complaint SLA
and detractor alerts, raised once, resolved when their cause goes away, on `pulse.alerts`."""

from datetime import timedelta

from services.common import catalog
from services.common.catalog import SlaMetricSnapshot


def tier(customer_id, value, at):
    return catalog.TierChanged(customer_id=customer_id, tier=value, changed_at=at)


def stage(customer_id, value, at, previous="active", p_alive=0.2):
    return catalog.LifecycleChanged(customer_id=customer_id, stage=value, previous_stage=previous, p_alive=p_alive, changed_at=at)


async def alerts_of(alerts, **query):
    answer = await alerts.client.get("/v1/alerts", params=query, headers=alerts.auth())
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


async def test_a_high_value_customer_going_silent_yields_one_churn_alert_and_a_purchase_resolves_it(alerts):
    now = alerts.clock.now()
    await alerts.send(tier("c-1", "high", now))
    await alerts.send(stage("c-1", "at_risk", now))
    await alerts.send(stage("c-1", "churned", now, previous="at_risk"))  # still the same risk: no second alert
    [alert] = await alerts_of(alerts, kind="churn_risk")
    assert (alert["severity"], alert["status"], alert["facts"]["stage"], alert["facts"]["tier"]) == ("critical", "open", "at_risk", "high")
    [raised] = await alerts.alert_events("pulse.alert.churn_risk.v1")
    assert raised.data["alert_id"] == alert["id"] and raised.data["dedup_key"] == "churn_risk:c-1:churn"
    assert raised.data["facts"]["p_alive"] == 0.2 and raised.data["rule_version"] == 0

    await alerts.advance(timedelta(days=1))
    await alerts.send(catalog.PurchaseRecorded(customer_id="c-1", purchase_id="p", order_id="o", amount="10.00",
                                               currency="CNY", occurred_at=alerts.clock.now()))
    [alert] = await alerts_of(alerts, kind="churn_risk")
    assert (alert["status"], alert["resolution"], alert["resolved_by"]) == ("resolved", "purchase", "system")
    [resolved] = await alerts.alert_events("pulse.alert.resolved.v1")
    assert (resolved.data["alert_kind"], resolved.data["status"], resolved.data["resolution"]) == ("churn_risk", "resolved", "purchase")

    await alerts.send(stage("c-1", "at_risk", alerts.clock.now()))  # flapping inside the quiet period
    assert len(await alerts_of(alerts, kind="churn_risk")) == 1


async def test_churn_alerts_are_filtered_by_tier_and_backfill_raises_nothing(alerts):
    now = alerts.clock.now()
    await alerts.send(tier("low-1", "low", now))
    await alerts.send(stage("low-1", "at_risk", now))
    await alerts.send(tier("old-1", "high", now))
    await alerts.send(stage("old-1", "churned", now), backfill=True)
    await alerts.send(catalog.ScoreUpdated(customer_id="m-1", health=20, p_alive=0.9, standard_version=1, scored_at=now))
    await alerts.send(tier("m-1", "medium", now))
    await alerts.send(catalog.ScoreUpdated(customer_id="m-1", health=20, p_alive=0.1, standard_version=1, scored_at=now))
    [alert] = await alerts_of(alerts)
    assert (alert["customer_id"], alert["severity"], alert["facts"]["trigger"]) == ("m-1", "warning", "p_alive")


async def test_follow_up_due_fires_at_the_tier_interval_and_an_interaction_resolves_it(alerts):
    start = alerts.clock.now()
    await alerts.send(tier("c-2", "high", start))
    await alerts.send(catalog.InteractionLogged(customer_id="c-2", interaction_id="i-1", channel="call",
                                                direction="outbound", occurred_at=start))
    await alerts.advance(timedelta(days=30) - timedelta(seconds=1))
    assert await alerts_of(alerts, kind="follow_up_due") == []
    await alerts.advance(timedelta(seconds=1))
    [alert] = await alerts_of(alerts, kind="follow_up_due")
    assert alert["due_at"] == (start + timedelta(days=30)).isoformat().replace("+00:00", "Z")
    assert alert["facts"]["interval_days"] == 30 and alert["severity"] == "warning"

    await alerts.advance(timedelta(hours=2))
    await alerts.send(catalog.InteractionLogged(customer_id="c-2", interaction_id="i-2", channel="visit",
                                                direction="outbound", occurred_at=alerts.clock.now()))
    [alert] = await alerts_of(alerts, kind="follow_up_due")
    assert (alert["status"], alert["resolution"]) == ("resolved", "interaction")
    await alerts.advance(timedelta(days=29))
    assert await alerts_of(alerts, kind="follow_up_due", status="open") == []  # moved: due 30 days after the interaction
    await alerts.advance(timedelta(days=1))
    assert len(await alerts_of(alerts, kind="follow_up_due", status="open")) == 1


def complaint(event, customer_id, complaint_id, at, *, state="running", due, warnings=(), status="open", metric="resolution"):
    snapshot = SlaMetricSnapshot(metric=metric, instance=1, state=state, breached=False, due_at=due, consumed_seconds=0,
                                 target_seconds=(due - at).total_seconds(), warnings_at=list(warnings))
    return event(customer_id=customer_id, complaint_id=complaint_id, status=status, priority="high", sla=[snapshot], changed_at=at)


async def test_complaint_sla_warning_and_breach_at_their_moments_once(alerts):
    t0 = alerts.clock.now()
    due, warning = t0 + timedelta(hours=4), t0 + timedelta(hours=3)
    await alerts.send(complaint(catalog.ComplaintOpened, "c-3", "k-1", t0, due=due, warnings=[warning]))
    await alerts.advance(timedelta(hours=3) - timedelta(seconds=1))
    assert await alerts_of(alerts) == []
    await alerts.advance(timedelta(seconds=1))
    assert [alert["kind"] for alert in await alerts_of(alerts)] == ["sla_warning"]
    # The same snapshot again (e.g. a status change) re-arms, but a threshold fires once.
    await alerts.send(complaint(catalog.ComplaintUpdated, "c-3", "k-1", alerts.clock.now(), due=due, warnings=[warning]))
    await alerts.advance(timedelta(hours=1) - timedelta(seconds=1))
    assert len(await alerts_of(alerts)) == 1
    await alerts.advance(timedelta(seconds=1))
    [warned] = await alerts.alert_events("pulse.alert.sla_warning.v1")
    [breached] = await alerts.alert_events("pulse.alert.sla_breached.v1")
    assert warned.data["due_at"] == warning.isoformat().replace("+00:00", "Z")
    assert breached.data["facts"]["deadline"] == due.isoformat() and breached.data["severity"] == "critical"
    assert breached.data["detected_at"] == breached.data["due_at"]
    await alerts.send(complaint(catalog.ComplaintResolved, "c-3", "k-1", alerts.clock.now(), due=due, state="fulfilled",
                                status="resolved"))
    assert {alert["status"] for alert in await alerts_of(alerts, customer_id="c-3")} == {"resolved"}


async def test_a_complaint_answered_in_time_raises_nothing_and_a_moved_deadline_is_followed(alerts):
    t0 = alerts.clock.now()
    await alerts.send(complaint(catalog.ComplaintOpened, "c-4", "k-2", t0, due=t0 + timedelta(hours=1),
                                warnings=[t0 + timedelta(minutes=45)], metric="first_response"))
    await alerts.send(complaint(catalog.ComplaintUpdated, "c-4", "k-2", t0 + timedelta(minutes=10), due=t0 + timedelta(hours=1),
                                state="fulfilled", metric="first_response"))
    await alerts.send(complaint(catalog.ComplaintOpened, "c-5", "k-3", t0, due=t0 + timedelta(hours=1)))
    await alerts.send(complaint(catalog.ComplaintUpdated, "c-5", "k-3", t0, due=t0 + timedelta(hours=5)))  # re-targeted
    await alerts.send(complaint(catalog.ComplaintOpened, "c-6", "k-4", t0, due=t0 + timedelta(hours=1)))
    await alerts.send(complaint(catalog.ComplaintUpdated, "c-6", "k-4", t0, due=t0 + timedelta(hours=1), state="paused"))
    await alerts.advance(timedelta(hours=2))
    assert await alerts_of(alerts) == []
    await alerts.advance(timedelta(hours=3))
    [alert] = await alerts_of(alerts)
    assert (alert["customer_id"], alert["kind"]) == ("c-5", "sla_breached")


async def test_a_timer_found_late_is_stamped_with_both_moments(alerts):
    t0 = alerts.clock.now()
    await alerts.send(complaint(catalog.ComplaintOpened, "c-7", "k-5", t0, due=t0 + timedelta(minutes=30)))
    await alerts.advance(timedelta(hours=6))  # the timer loop did not run when it was due
    [alert] = await alerts_of(alerts)
    assert alert["due_at"] != alert["detected_at"]
    assert alert["detected_at"] == (t0 + timedelta(hours=6)).isoformat().replace("+00:00", "Z")


async def test_detractors_of_chosen_tiers(alerts):
    now = alerts.clock.now()
    await alerts.send(tier("c-8", "high", now))
    await alerts.send(tier("c-9", "low", now))

    def answer(customer_id, response_id, kind, score, lo, hi):
        return catalog.SurveyResponded(customer_id=customer_id, response_id=response_id, survey_id="s", kind=kind,
                                       score=score, scale_min=lo, scale_max=hi, answered_at=now)

    await alerts.send(answer("c-8", "r-1", "nps", 3, 0, 10))
    await alerts.send(answer("c-8", "r-2", "nps", 9, 0, 10))
    await alerts.send(answer("c-8", "r-3", "csat", 2, 1, 5))
    await alerts.send(answer("c-9", "r-4", "nps", 0, 0, 10))
    await alerts.send(answer("c-8", "r-5", "nps", 0, 0, 10), backfill=True)
    found = await alerts_of(alerts, kind="detractor")
    assert sorted(alert["facts"]["response_id"] for alert in found) == ["r-1", "r-3"]


async def test_many_breaches_in_one_pass_raise_one_alert_each_and_an_open_one_stands_in_the_way(alerts):
    t0 = alerts.clock.now()
    due = t0 + timedelta(minutes=30)
    for number in range(40):
        await alerts.send(complaint(catalog.ComplaintOpened, f"c-{number}", f"k-{number}", t0, due=due, warnings=[due]))
    await alerts.advance(timedelta(minutes=30))  # warning and breach of 40 complaints due in the same pass
    raised = await alerts_of(alerts, limit=200)
    assert sorted((alert["customer_id"], alert["kind"]) for alert in raised) == sorted(
        (f"c-{number}", kind) for number in range(40) for kind in ("sla_warning", "sla_breached"))
    assert len(await alerts.alert_events("pulse.alert.sla_breached.v1")) == 40
    # The same deadline armed again: the thresholds were crossed once and stay so.
    await alerts.send(complaint(catalog.ComplaintUpdated, "c-1", "k-1", alerts.clock.now(), due=alerts.clock.now() + timedelta(minutes=1)))
    await alerts.advance(timedelta(minutes=1))
    assert len(await alerts_of(alerts, limit=200)) == 80
