"""A period summary as the scoring API gives it, with the numbers of a mid-sized shop (and the
complaint times another branch may add): what the page tests render."""

import asyncio
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import DBAPIError

from services.common.catalog import ComplaintOpened, ComplaintResolved, SlaMetricSnapshot, SurveyResponded
from services.common.failures import DeliverAgain
from tests.scoring.service_support import deliver, envelopes, purchase

SAMPLE_SUMMARY = {
    "from": "2026-01-01T00:00:00+00:00", "to": "2026-04-01T00:00:00+00:00",
    "stages": {"start": {"prospect": 2100, "new": 3400, "active": 8200, "at_risk": 2900, "churned": 3400},
               "end": {"prospect": 1800, "new": 2900, "active": 8900, "at_risk": 3100, "churned": 3300}},
    "tiers": {"start": {"high": 3600, "medium": 5400, "low": 8900, "unrated": 2100},
              "end": {"high": 3700, "medium": 5600, "low": 8900, "unrated": 1800}},
    "stage_moves": {"new->active": 1200, "active->at_risk": 900, "at_risk->churned": 400, "churned->active": 300,
                    "prospect->new": 300, "at_risk->active": 250},
    "tier_moves": {"low->medium": 420, "medium->high": 180, "high->medium": 90, "unrated->low": 300},
    "customers": {"new": 300, "reactivated": 550, "churned": 400, "churn_rate": 0.0275},
    "sales": {"revenue": 1843210.5, "orders": 9321, "average_order_value": 197.75, "buyers": 6120, "repeat_purchase_rate": 0.412},
    "clv_by_tier_now": {"high": {"customers": 3700, "average_clv": 2310.4, "total_clv": 8548480.0},
                        "medium": {"customers": 5600, "average_clv": 820.1, "total_clv": 4592560.0},
                        "low": {"customers": 8900, "average_clv": 190.3, "total_clv": 1693670.0},
                        "unrated": {"customers": 1800, "average_clv": 0.0, "total_clv": 0.0}},
    "surveys": {
        "nps": {"count": 812, "score": 31.4, "margin": 5.2, "trend": {"2026-01": {"count": 250, "score": 27.0, "margin": 9.1},
                "2026-02": {"count": 270, "score": 32.5, "margin": 8.8}, "2026-03": {"count": 292, "score": 34.2, "margin": 8.3}}},
        "csat": {"count": 640, "score": 86.4, "margin": 2.7, "trend": {"2026-01": {"count": 200, "score": 84.0, "margin": 5.1},
                 "2026-02": {"count": 0, "score": None, "margin": None}, "2026-03": {"count": 240, "score": 88.1, "margin": 4.1}}},
        "ces": {"count": 0, "score": None, "margin": None, "trend": {"2026-01": {"count": 0, "score": None, "margin": None},
                "2026-02": {"count": 0, "score": None, "margin": None}, "2026-03": {"count": 0, "score": None, "margin": None}}},
    },
    "complaints": {"opened": 214, "resolved": 198, "sla_compliance": 0.914,
                   "median_first_response_seconds": 5400.0, "median_resolution_seconds": 97200.0},
}


# --- a small shop run through the scoring service, for the API, command and browser tests -------

SHOP_NOW = datetime(2026, 4, 1, tzinfo=UTC)
SHOP_START = SHOP_NOW - timedelta(days=182)
SHOP_PERIOD = {"from": "2026-01-01T00:00:00+00:00", "to": "2026-04-01T00:00:00+00:00"}


def _answer(customer_id: str, number: int, kind: str, score: int, when: datetime) -> SurveyResponded:
    low, high = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}[kind]
    return SurveyResponded(customer_id=customer_id, response_id=f"r-{customer_id}-{kind}-{number}", survey_id=kind, kind=kind,
                           score=score, scale_min=low, scale_max=high, answered_at=when)


def _complaint(customer_id: str, number: int, when: datetime, *, breached: bool, resolved: bool) -> list:
    sla = [SlaMetricSnapshot(metric="resolution", state="running", breached=breached, consumed_seconds=60, target_seconds=86400)]
    opened = ComplaintOpened(customer_id=customer_id, complaint_id=f"c-{number}", status="open", priority="normal", sla=sla,
                             changed_at=when)
    done = ComplaintResolved(customer_id=customer_id, complaint_id=f"c-{number}", status="resolved", priority="normal", sla=sla,
                             changed_at=when + timedelta(days=2))
    return [opened, done] if resolved else [opened]


def shop_story(seed: int = 16, customers: int = 60) -> list:
    """Customers arriving over half a year, buying, some going quiet, answering surveys and complaining
    (all within [SHOP_START, SHOP_NOW))."""
    draw, events = random.Random(seed), []
    for n in range(customers):
        customer, first = f"shop-{n:02d}", SHOP_START + timedelta(days=draw.uniform(0, 170))
        loyal = draw.random() < 0.5  # the others buy for a while and go quiet
        last = SHOP_NOW if loyal else min(SHOP_NOW, first + timedelta(days=draw.uniform(10, 60)))
        when = first
        while when < last:
            events.append(purchase(customer, when, f"{draw.choice([58, 88, 128, 199, 388, 888])}.00"))
            when += timedelta(days=draw.expovariate(1 / 25))
        for kind, scale in (("nps", range(0, 11)), ("csat", range(1, 6)), ("ces", range(1, 8))):
            for number in range(draw.randint(0, 4)):
                events.append(_answer(customer, number, kind, draw.choice(list(scale)[len(scale) // 3:]),
                                      SHOP_NOW - timedelta(days=draw.uniform(1, 89))))
        if n % 5 == 0:
            events.extend(_complaint(customer, n, SHOP_NOW - timedelta(days=draw.uniform(5, 80)), breached=n % 10 == 0,
                                     resolved=n % 15 != 0))
    return events


def _moment(payload) -> datetime:
    return getattr(payload, "occurred_at", None) or getattr(payload, "answered_at", None) or payload.changed_at


async def open_the_shop(harness) -> None:
    """The story as it happens: a week at a time on the harness's ManualClock (starting at
    SHOP_START), each week's events, then the timers due (customers going quiet)."""
    story = sorted(shop_story(), key=_moment)
    week_start = SHOP_START
    while week_start < SHOP_NOW:
        week_end = min(week_start + timedelta(days=7), SHOP_NOW)
        harness.clock.set(week_end)
        week = envelopes([payload for payload in story if week_start <= _moment(payload) < week_end])
        await _again_after_a_deadlock(lambda: deliver(harness, week))
        await _again_after_a_deadlock(harness.fire_due_timers)
        week_start = week_end


async def _again_after_a_deadlock(step) -> None:
    """On PostgreSQL the week's events and the service's own timer loop may deadlock: the consumer
    says "deliver again" (as the outbox relay would; the inbox drops what was applied), a timer pass
    fails whole. Either is tried again after the other side's turn."""
    for _ in range(5):
        try:
            await step()
            return
        except (DeliverAgain, DBAPIError):
            await asyncio.sleep(0.2)
    await step()
