"""The demo against the embedded stack, through the public APIs: a small shop, then a second run
that adds nothing."""

from collections import Counter

import pytest

from services.demo import fill, look
from services.demo.client import PulseApi
from tests.harness import embedded_harness, settings_for_tests

pytestmark = pytest.mark.slow


async def run_once(api: PulseApi, options: fill.Options) -> fill.Outcome:
    run = await fill.prepare(api, options)
    await fill.send(run, fill.HISTORY)
    await fill.wait_for_scoring(api, run.outcome.expected_purchases, options.customers, options.wait_seconds)
    await fill.send(run, fill.TODAY)
    return run.outcome


async def what_is_there(api: PulseApi) -> dict:
    customers = await api.all_pages("profiles", "/v1/customers", {})
    interactions = [i for c in customers for i in await api.all_pages("profiles", f"/v1/customers/{c['id']}/interactions", {})]
    purchases = [p for c in customers for p in await api.all_pages("profiles", f"/v1/customers/{c['id']}/purchases", {})]
    surveys = (await api.json("profiles", "GET", "/v1/customers", params={"external_id": "pulse-demo-progress-5"}))["items"][0]
    answers = {kind: (await api.json("feedback", "GET", f"/v1/surveys/{survey_id}/results"))["responses"]
               for kind, survey_id in surveys["attributes"]["surveys"].items()}
    return {
        "customers": len(customers), "purchases": len(purchases), "refunded": sum(p["refunded_amount"] != "0.00" for p in purchases),
        "interactions": len(interactions), "feedback": len(await api.all_pages("feedback", "/v1/feedback", {})),
        "complaints": Counter(c["status"] for c in await api.all_pages("feedback", "/v1/complaints", {})),
        "answers": answers, "policies": len((await api.json("feedback", "GET", "/v1/sla-policies"))["policies"]),
    }


async def test_the_demo_fills_a_small_shop_and_a_second_run_adds_nothing(tmp_path):
    options = fill.Options(customers=60, seed=5, chunk=25, wait_seconds=60)
    async with embedded_harness(settings_for_tests(tmp_path)) as stack:
        api = PulseApi({name: harness.client for name, harness in stack.items()}, stack["profiles"].admin_key)
        first = await run_once(api, options)
        there = await what_is_there(api)

        assert first.added["customers"] == 60 and there["customers"] == 61  # and the demo's progress record
        assert first.unchanged["customers"] == 0  # today's phase reuses the ids the history's upsert gave
        assert first.added["purchases"] == there["purchases"] == first.expected_purchases > 60
        assert first.added["refunds"] == there["refunded"] and first.added["interactions"] == there["interactions"]
        assert first.added["complaints"] == sum(there["complaints"].values()) > 0
        assert sum(there["answers"].values()) == first.added["survey answers"] > 0
        stats = await api.json("scoring", "GET", "/v1/stats")
        assert stats["purchases"] == first.expected_purchases

        second = await run_once(api, options)
        assert +second.added == Counter()
        assert second.skipped_chunks == 2 * 3  # both phases, every chunk
        assert await what_is_there(api) == there

        # Without its marks for purchases and refunds, a run sends them again: their keys make that a no-op.
        progress = await fill.Progress.load(api, options.seed, first.anchor)
        await progress.save(lambda state: state.update(complete=[], partial={str(n): list(fill.STAGES[2:]) for n in range(3)}))
        third = await run_once(api, options)
        assert third.added["purchases"] == third.added["refunds"] == 0 and sum(third.added.values()) == 0
        assert third.unchanged["purchases"] == there["purchases"] and third.unchanged["refunds"] == there["refunded"]
        assert await what_is_there(api) == there

        start, end = fill.report_window(first.anchor, first.anchor)
        sights = await look.gather_sights(api, start, end)
        lines = look.describe(sights, {"scoring": "s", "alerts": "a", "feedback": "f"}, start, end)
        assert any(line.startswith("Period report") for line in lines) and sights.report["sales"]["orders"] == there["purchases"]
