"""Feedback from every channel: recorded, filtered, handled; its event has no text."""


async def post(feedback, **body) -> dict:
    response = await feedback.client.post("/v1/feedback", json=body, headers=feedback.auth())
    assert response.status_code == 201, response.text
    return response.json()


async def test_feedback_from_every_channel_is_listed_filtered_and_marked_handled(feedback, clock):
    channels = ("hotline", "online_chat", "email", "suggestion_box", "social_media", "in_app", "wechat")
    for n, channel in enumerate(channels):
        await post(feedback, customer_id=f"c-{n % 2}", channel=channel, category="product_quality" if n % 2 else "service_attitude",
                   rating=1 + n % 5, text=f"note {n}")
    anonymous = await post(feedback, channel="suggestion_box", category="store_layout", text="more chairs")
    listed = (await feedback.client.get("/v1/feedback", params={"limit": 3}, headers=feedback.auth())).json()
    assert len(listed["items"]) == 3 and listed["next_cursor"]
    by_channel = (await feedback.client.get("/v1/feedback", params={"channel": "wechat"}, headers=feedback.auth())).json()["items"]
    assert [i["text"] for i in by_channel] == ["note 6"]
    handled = await feedback.client.post(f"/v1/feedback/{anonymous['id']}:handle", headers=feedback.auth())
    assert handled.status_code == 200 and handled.json()["handled_at"] == "2026-03-02T01:00:00Z" and handled.json()["handled_by"]
    again = await feedback.client.post(f"/v1/feedback/{anonymous['id']}:handle", headers=feedback.auth())
    assert again.status_code == 409
    open_items = (await feedback.client.get("/v1/feedback", params={"handled": "false", "limit": 50}, headers=feedback.auth())).json()["items"]
    assert len(open_items) == 7
    quality = (await feedback.client.get("/v1/feedback", params={"category": "product_quality", "customer_id": "c-1"}, headers=feedback.auth())).json()
    assert len(quality["items"]) == 3
    analyst = feedback.auth(await feedback.key_for("analyst"))
    assert all(i["text"] is None for i in (await feedback.client.get("/v1/feedback", headers=analyst)).json()["items"])
    assert (await feedback.client.post("/v1/feedback", json={"channel": "email", "category": "x"}, headers=analyst)).status_code == 403
    await feedback.drain_outbox()
    events = feedback.recorder.events("pulse.feedback.received.v1")
    assert [(e.data["channel"], e.data.get("rating"), e.data["category"]) for e in events][:2] == [("hotline", 1, "service_attitude"), ("online_chat", 2, "product_quality")]
    assert all("note" not in str(e.data) and "chairs" not in str(e.data) for e in events)


async def test_an_unknown_channel_or_rating_out_of_range_is_refused_naming_the_field(feedback):
    response = await feedback.client.post("/v1/feedback", json={"channel": "pigeon", "category": "x"}, headers=feedback.auth())
    assert (response.status_code, response.json()["errors"][0]["field"]) == (422, "channel")
    response = await feedback.client.post("/v1/feedback", json={"channel": "email", "category": "x", "rating": 6}, headers=feedback.auth())
    assert (response.status_code, response.json()["errors"][0]["field"]) == (422, "rating")
