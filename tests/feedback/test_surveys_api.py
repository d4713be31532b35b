"""Surveys through the API: invitations, links, throttle, answers and their history, results, points."""

import math
from datetime import timedelta

import pytest

Z = 1.959964


async def create_survey(feedback, kind: str, **fields) -> dict:
    response = await feedback.client.post("/v1/surveys", json={"kind": kind, "name": f"{kind} survey", **fields}, headers=feedback.auth())
    assert response.status_code == 201, response.text
    return response.json()


async def record(feedback, survey_id: str, score: int, customer: str = "c-1", **fields) -> dict:
    body = {"customer_id": customer, "score": score, "channel": "phone", **fields}
    response = await feedback.client.post(f"/v1/surveys/{survey_id}/responses", json=body, headers=feedback.auth())
    assert response.status_code == 201, response.text
    return response.json()


async def results(feedback, survey_id: str, **params) -> dict:
    response = await feedback.client.get(f"/v1/surveys/{survey_id}/results", params=params, headers=feedback.auth())
    assert response.status_code == 200, response.text
    return response.json()


async def invite(feedback, survey_id: str, customer: str = "c-1", expect: int = 201, **fields) -> dict:
    response = await feedback.client.post(f"/v1/surveys/{survey_id}/invitations", json={"customer_id": customer, **fields}, headers=feedback.auth())
    assert response.status_code == expect, response.text
    return response.json()


async def test_nps_results_equal_the_hand_computed_score_margin_and_counts(feedback):
    survey = await create_survey(feedback, "nps")
    for n, score in enumerate([10, 9, 9, 8, 7, 6, 3, 10, 0, 5]):
        await record(feedback, survey["id"], score, customer=f"c-{n}")
    found = await results(feedback, survey["id"])
    # 4 promoters, 2 passives, 4 detractors of 10: NPS 40 % - 40 % = 0; each answer is +1/0/-1 with
    # variance 0.8 - 0 = 0.8, so the margin is 1.96 * 100 * sqrt(0.8 / 10).
    assert (found["status"], found["responses"], found["score"]) == ("ok", 10, 0)
    assert found["margin_of_error"] == pytest.approx(Z * 100 * math.sqrt(0.08))
    assert found["details"] == {"promoters": 4, "passives": 2, "detractors": 4}
    assert found["counts"] == {"0": 1, "1": 0, "2": 0, "3": 1, "4": 0, "5": 1, "6": 1, "7": 1, "8": 1, "9": 2, "10": 2}
    assert (found["invitations_sent"], found["invitations_answered"], found["response_rate"]) == (10, 10, 100)


async def test_csat_and_ces_results_equal_the_hand_computed_values(feedback):
    csat = await create_survey(feedback, "csat")
    for n, score in enumerate([5, 4, 4, 3, 1]):
        await record(feedback, csat["id"], score, customer=f"c-{n}")
    found = await results(feedback, csat["id"])
    assert found["score"] == pytest.approx(60)  # 3 of 5 answered 4-5
    assert found["margin_of_error"] == pytest.approx(Z * 100 * math.sqrt(0.6 * 0.4 / 5))
    ces = await create_survey(feedback, "ces")
    for n, score in enumerate([7, 5, 6, 2]):
        await record(feedback, ces["id"], score, customer=f"c-{n}")
    found = await results(feedback, ces["id"])
    # mean 5; deviations 2, 0, 1, -3: sample variance 14 / 3; margin 1.96 * sqrt(14 / 3 / 4).
    assert (found["score"], found["details"]["low_effort_share"]) == (5, 75)
    assert found["margin_of_error"] == pytest.approx(Z * math.sqrt(14 / 3 / 4))


async def test_no_answers_is_no_data_never_zero(feedback):
    survey = await create_survey(feedback, "nps")
    found = await results(feedback, survey["id"])
    assert (found["status"], found["score"], found["margin_of_error"], found["response_rate"]) == ("no data", None, None, None)
    one = await record(feedback, survey["id"], 9)
    found = await results(feedback, survey["id"])
    assert (found["score"], found["margin_of_error"]) == (100, None)  # one answer: no spread to estimate
    assert found["trend"][0]["hidden"] and found["trend"][0]["score"] is None  # under the minimum count
    assert one["latest"]


async def test_trend_buckets_by_month(feedback, clock):
    survey = await create_survey(feedback, "csat")
    for month in range(2):
        for n in range(5):
            await record(feedback, survey["id"], 5 - month, customer=f"c-{month}-{n}")
        clock.advance(timedelta(days=31))
    found = await results(feedback, survey["id"], bucket="month")
    assert [(b["label"], b["responses"], b["score"]) for b in found["trend"]] == [("2026-03", 5, 100), ("2026-04", 5, 100)]


async def test_a_link_answers_once_and_expires(feedback, clock):
    survey = await create_survey(feedback, "nps", follow_up_question="Why?", questions=[{"key": "response_speed", "label": "Speed"}])
    invitation = await invite(feedback, survey["id"])
    token = invitation["token"]
    form = (await feedback.client.get(f"/v1/responses/{token}")).json()
    assert (form["kind"], form["scale_max"], form["answered"], form["questions"][0]["key"]) == ("nps", 10, False, "response_speed")
    bad = await feedback.client.post(f"/v1/responses/{token}", json={"score": 11})
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "score")
    answer = await feedback.client.post(f"/v1/responses/{token}", json={"score": 9, "comment": "quick", "ratings": {"response_speed": 5}})
    assert answer.status_code == 201, answer.text
    again = await feedback.client.post(f"/v1/responses/{token}", json={"score": 3})
    assert again.status_code == 409 and "used" in again.json()["detail"]
    later = await invite(feedback, survey["id"], customer="c-2")
    clock.advance(timedelta(days=14))
    expired = await feedback.client.post(f"/v1/responses/{later['token']}", json={"score": 3})
    assert expired.status_code == 410 and "expired" in expired.json()["detail"]
    assert (await feedback.client.get("/v1/responses/not-a-token")).status_code == 404


async def test_the_per_customer_throttle_refuses_with_its_reason_and_batches_list_who_was_throttled(feedback, clock):
    nps = await create_survey(feedback, "nps")
    csat = await create_survey(feedback, "csat")
    await invite(feedback, nps["id"], customer="c-1")
    clock.advance(timedelta(days=10))
    refused = await invite(feedback, csat["id"], customer="c-1", expect=409)
    assert "throttled" in refused["detail"] and refused["next_allowed_at"].startswith("2026-04-01")
    batch = await feedback.client.post(f"/v1/surveys/{csat['id']}/invitations", json={"customer_ids": ["c-1", "c-2", "c-2"]}, headers=feedback.auth())
    assert batch.status_code == 200
    assert [i["customer_id"] for i in batch.json()["sent"]] == ["c-2"]
    assert [t["customer_id"] for t in batch.json()["throttled"]] == ["c-1", "c-2"]
    clock.advance(timedelta(days=20))
    await invite(feedback, csat["id"], customer="c-1")
    assert (await results(feedback, csat["id"]))["invitations_sent"] == 2  # throttled sends are not counted


async def test_a_changed_answer_keeps_its_history_and_the_latest_counts(feedback, clock):
    survey = await create_survey(feedback, "nps")
    invitation = await invite(feedback, survey["id"])
    await feedback.client.post(f"/v1/responses/{invitation['token']}", json={"score": 3, "comment": "slow"})
    clock.advance(timedelta(hours=1))
    await record(feedback, survey["id"], 10, invitation_id=invitation["id"], comment="called back, all good")
    found = await results(feedback, survey["id"])
    assert (found["responses"], found["score"], found["response_rate"]) == (1, 100, 100)
    detail = (await feedback.client.get(f"/v1/surveys/{survey['id']}/invitations/{invitation['id']}", headers=feedback.auth())).json()
    assert [(r["score"], r["latest"], r["channel"]) for r in detail["responses"]] == [(3, False, "link"), (10, True, "phone")]
    analyst = feedback.auth(await feedback.key_for("analyst"))
    seen = (await feedback.client.get(f"/v1/surveys/{survey['id']}/invitations/{invitation['id']}", headers=analyst)).json()
    assert [r["comment"] for r in seen["responses"]] == [None, None] and seen["token"] is None
    assert (await feedback.client.get(f"/v1/surveys/{survey['id']}/results", headers=analyst)).status_code == 200
    await feedback.drain_outbox()
    events = feedback.recorder.events("pulse.survey.responded.v1")
    assert [(e.data["kind"], e.data["score"], e.data["survey_id"]) for e in events] == [("nps", 3, survey["id"]), ("nps", 10, survey["id"])]
    assert all("slow" not in str(e.data) and "comment" not in e.data for e in events)


async def test_points_are_awarded_once_per_invitation_redeemed_never_below_zero_and_expire(feedback, clock):
    survey = await create_survey(feedback, "csat", points=10)
    invitation = await invite(feedback, survey["id"])
    await feedback.client.post(f"/v1/responses/{invitation['token']}", json={"score": 4})
    await record(feedback, survey["id"], 5, invitation_id=invitation["id"])  # a changed answer earns nothing more
    points = (await feedback.client.get("/v1/customers/c-1/points", headers=feedback.auth())).json()
    assert (points["balance"], [e["kind"] for e in points["entries"]]) == (10, ["award"])
    refused = await feedback.client.post("/v1/customers/c-1/points:redeem", json={"points": 15}, headers=feedback.auth())
    assert (refused.status_code, refused.json()["balance"]) == (409, 10)
    assert "balance is 10 points" in refused.json()["detail"]
    redeemed = await feedback.client.post("/v1/customers/c-1/points:redeem", json={"points": 4, "note": "a coffee mug"}, headers=feedback.auth())
    assert redeemed.json()["balance"] == 6
    clock.advance(timedelta(days=365))
    expired = (await feedback.client.get("/v1/customers/c-1/points", headers=feedback.auth())).json()
    assert (expired["balance"], expired["entries"][-1]["kind"], expired["entries"][-1]["points"]) == (0, "expire", -6)
    await feedback.drain_outbox()
    changes = [e.data for e in feedback.recorder.events("pulse.loyalty.points_changed.v1")]
    assert [(c["kind"], c["points"], c["balance"]) for c in changes] == [("award", 10, 10), ("redeem", -4, 6), ("expire", -6, 0)]
    assert all("mug" not in str(c) for c in changes)


async def test_the_hourly_job_expires_points_of_customers_nobody_looks_at(feedback, clock):
    survey = await create_survey(feedback, "nps", points=7)
    await record(feedback, survey["id"], 9, customer="c-quiet")
    clock.advance(timedelta(days=366))
    assert await feedback.context.jobs.run_now("points.expire")
    await feedback.drain_outbox()
    changes = [(e.subject, e.data["kind"], e.data["points"], e.data["balance"]) for e in feedback.recorder.events("pulse.loyalty.points_changed.v1")]
    assert changes == [("c-quiet", "award", 7, 7), ("c-quiet", "expire", -7, 0)]
