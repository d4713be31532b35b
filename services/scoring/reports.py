"""The period summary (scoring.md §7) from the score history, purchase lines, answers and complaints."""

import csv
import io
import statistics
from collections import Counter
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.models import complaints, customers, purchase_lines, score_changes, scores, survey_responses
from services.scoring.scores.lifecycle import CHURNED, PROSPECT
from services.scoring.scores.summary import UNITS_PER_CURRENCY
from services.scoring.scores.surveys import survey_metric, trend_buckets
from services.scoring.scores.tiers import UNRATED

STILL_CUSTOMERS = ("new", "active", "at_risk")


async def _positions(session: AsyncSession, moment: datetime) -> dict[str, tuple[str, str]]:
    """Every known customer's (stage, tier) just before `moment`, from the history of moves."""
    known = (await session.scalars(sa.select(customers.c.customer_id).where(customers.c.merged_into.is_(None)))).all()
    positions = {customer_id: (PROSPECT, UNRATED) for customer_id in known}
    rows = await session.execute(
        sa.select(score_changes.c.customer_id, score_changes.c.stage, score_changes.c.tier)
        .where(score_changes.c.changed_at < moment).order_by(score_changes.c.changed_at, score_changes.c.id)
    )
    for customer_id, stage, tier in rows:
        if customer_id in positions:
            positions[customer_id] = (stage, tier)
    return positions


async def _moves(session: AsyncSession, start: datetime, end: datetime) -> dict[str, int]:
    rows = (await session.execute(
        sa.select(score_changes.c.stage, score_changes.c.previous_stage, score_changes.c.reactivated)
        .where(score_changes.c.changed_at >= start, score_changes.c.changed_at < end,
               score_changes.c.stage != score_changes.c.previous_stage)
    )).all()
    return {
        "new": sum(1 for row in rows if row.previous_stage == PROSPECT),
        "reactivated": sum(1 for row in rows if row.reactivated),
        "churned": sum(1 for row in rows if row.stage == CHURNED),
    }


async def _sales(session: AsyncSession, start: datetime, end: datetime) -> dict:
    lines = purchase_lines.c
    in_period = (lines.occurred_at >= start, lines.occurred_at < end)
    orders = await session.scalar(sa.select(sa.func.count()).where(lines.kind == "purchase", *in_period)) or 0
    units = await session.scalar(sa.select(sa.func.coalesce(sa.func.sum(lines.units), 0)).where(*in_period)) or 0
    buyers = sa.select(lines.customer_id).where(lines.kind == "purchase", *in_period).distinct().subquery()
    periods = await session.execute(
        sa.select(lines.customer_id, sa.func.count(sa.distinct(lines.day)))
        .where(lines.customer_id.in_(sa.select(buyers.c.customer_id)), lines.kind == "purchase", lines.occurred_at < end)
        .group_by(lines.customer_id)
    )
    repeaters = sum(1 for _, count in periods if count > 1)
    buyer_count = await session.scalar(sa.select(sa.func.count()).select_from(buyers)) or 0
    revenue = float(units) / UNITS_PER_CURRENCY  # PostgreSQL sums integers as numeric (Decimal): a float on both backends
    return {
        "revenue": revenue, "orders": orders, "average_order_value": revenue / orders if orders else None,
        "buyers": buyer_count, "repeat_purchase_rate": repeaters / buyer_count if buyer_count else None,
    }


async def _clv_by_tier(session: AsyncSession) -> dict:
    rows = await session.execute(sa.select(scores.c.tier, sa.func.count(), sa.func.avg(scores.c.clv), sa.func.sum(scores.c.clv))
                                 .group_by(scores.c.tier))
    return {tier: {"customers": n, "average_clv": average, "total_clv": total} for tier, n, average, total in rows}


async def _surveys(session: AsyncSession, start: datetime, end: datetime) -> dict:
    answers = survey_responses.c
    rows = (await session.execute(sa.select(answers.kind, answers.answered_at, answers.score)
                                  .where(answers.answered_at >= start, answers.answered_at < end))).all()
    buckets = trend_buckets(start, end)
    return {kind: _with_trend(kind, [(at, score) for k, at, score in rows if k == kind], buckets) for kind in ("nps", "csat", "ces")}


def _with_trend(kind: str, answers: list[tuple[datetime, int]], buckets: list) -> dict:
    trend = {label: survey_metric(kind, [score for at, score in answers if first <= at < last]) for label, first, last in buckets}
    return survey_metric(kind, [score for _, score in answers]) | {"trend": trend}


async def _complaints(session: AsyncSession, start: datetime, end: datetime) -> dict:
    c = complaints.c
    opened = (await session.execute(sa.select(c.first_response_seconds).where(c.opened_at >= start, c.opened_at < end))).scalars().all()
    resolved = (await session.execute(sa.select(c.breached, c.resolution_seconds)
                                      .where(c.resolved_at >= start, c.resolved_at < end))).all()
    return {
        "opened": len(opened), "resolved": len(resolved),
        "sla_compliance": sum(not row.breached for row in resolved) / len(resolved) if resolved else None,
        # As the SLA clocks counted them (business time, pauses left out), of the complaints opened
        # (first response) and resolved (resolution) in the period that have one.
        "median_first_response_seconds": _median(seconds for seconds in opened if seconds is not None),
        "median_resolution_seconds": _median(row.resolution_seconds for row in resolved if row.resolution_seconds is not None),
    }


def _median(values) -> float | None:
    values = list(values)
    return statistics.median(values) if values else None


async def period_summary(session: AsyncSession, *, start: datetime, end: datetime) -> dict:
    at_start, at_end = await _positions(session, start), await _positions(session, end)
    moves = await _moves(session, start, end)
    active_at_start = sum(1 for stage, _ in at_start.values() if stage in STILL_CUSTOMERS)
    return {
        "from": start.isoformat(), "to": end.isoformat(),
        "stages": {"start": dict(Counter(s for s, _ in at_start.values())), "end": dict(Counter(s for s, _ in at_end.values()))},
        "tiers": {"start": dict(Counter(t for _, t in at_start.values())), "end": dict(Counter(t for _, t in at_end.values()))},
        "stage_moves": _pairs(at_start, at_end, 0), "tier_moves": _pairs(at_start, at_end, 1),
        "customers": moves | {"churn_rate": moves["churned"] / active_at_start if active_at_start else None},
        "sales": await _sales(session, start, end),
        "clv_by_tier_now": await _clv_by_tier(session),
        "surveys": await _surveys(session, start, end),
        "complaints": await _complaints(session, start, end),
    }


def _pairs(at_start: dict, at_end: dict, index: int) -> dict[str, int]:
    moved = Counter(f"{at_start[c][index]}->{at_end[c][index]}" for c in at_end
                    if c in at_start and at_start[c][index] != at_end[c][index])
    return dict(moved)


def as_csv(report: dict) -> str:
    """One `section,name,value` row per number, the nested report flattened."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "name", "value"])

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            section, _, name = prefix.partition(".")
            writer.writerow([section, name, "" if value is None else value])

    walk("", report)
    return out.getvalue()
