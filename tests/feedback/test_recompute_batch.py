"""The batch work of a new calendar version gives what the one-complaint functions give: which
deadlines moved, the events' payloads (built without their models) and the stored state's JSON."""

import random
from dataclasses import replace
from datetime import timedelta

import orjson

from services.feedback.complaint_handling import complaint_event
from services.feedback.complaint_recompute import event_data
from services.feedback.complaints import sla_state as core
from tests.feedback.calendars_fixtures import shanghai, office
from tests.feedback.sla_fixtures import agent_reply, context, customer_message, opened, status, statuses


def varied_complaints(ctx, count=240):
    """Open complaints in every shape a recompute meets: running, answered, paused, waiting on a
    customer's message, urgent, gold tier, breached long ago."""
    rng = random.Random(12)
    slas = []
    for n in range(count):
        at = shanghai(2026, 2, 23, 9) + timedelta(minutes=rng.randrange(0, 8 * 24 * 60), microseconds=rng.choice([0, rng.randrange(10**6)]))
        sla = opened(at, priority=rng.choice(["urgent", "normal", "low"]), tier=rng.choice([None, "gold"]), complaint_id=f"c-{n}", ctx=ctx)
        later = at + timedelta(minutes=rng.randrange(1, 600))
        shape = n % 5
        if shape == 1:
            sla = agent_reply(statuses(sla, later, "acknowledge", "start", ctx=ctx), later, ctx)
        elif shape == 2:
            sla = status(statuses(sla, later, "acknowledge", "start", ctx=ctx), "wait_on_customer", later + timedelta(minutes=5), ctx)
        elif shape == 3:
            sla = customer_message(agent_reply(sla, later, ctx), later + timedelta(minutes=20), ctx)
        elif shape == 4:
            sla = status(statuses(sla, later, "acknowledge", "start", ctx=ctx), "wait_on_third_party", later, ctx)
        slas.append(sla)
    return slas


def test_a_batch_recompute_reports_the_same_moves_payloads_and_stored_state_as_one_at_a_time():
    old = context()
    new = replace(old, calendars={**old.calendars, "office": office(version=2, exceptions=[{"date": "2026-03-05", "hours": []}])})
    at = shanghai(2026, 3, 4, 15, 30)
    before = varied_complaints(old)
    after = core.recompute_versions(before, old, new, at, calendar="office")
    moved, warnings = core.deadlines_moved_many(before, after, old, new, at)
    assert moved == [core.deadlines_moved(b, a, old, new, at) for b, a in zip(before, after)]
    assert 0 < sum(moved) < len(moved)  # both kinds are checked
    assert any(any(w) for w in warnings)  # and warning moments are among what is compared
    for sla, warned in zip(after, warnings):
        row = {"id": sla.complaint_id, "customer_id": f"customer-of-{sla.complaint_id}"}
        expected = complaint_event(row, sla, new, "recompute", at).model_dump(mode="json", exclude_none=True)
        # As the outbox's bytes (orjson, UTC as Z): key order and 1.0 against 1 count too.
        assert orjson.dumps(event_data(row["id"], row["customer_id"], sla, warned, at), option=orjson.OPT_UTC_Z) == orjson.dumps(expected)
        assert orjson.loads(sla.to_json()) == sla.to_dict()
        assert core.ComplaintSla.from_dict(orjson.loads(sla.to_json())) == sla


def test_a_stored_clock_with_a_key_this_version_does_not_know_reads_without_it():
    sla = opened(shanghai(2026, 3, 2, 9))
    stored = sla.to_dict()
    stored["clocks"] = [{**c, "from_a_later_version": 1} for c in stored["clocks"]]
    assert core.ComplaintSla.from_dict(stored) == sla
