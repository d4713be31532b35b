"""Reading scores: one customer's card at any moment, their history, segments, the models, the stats."""

import base64
import json
from dataclasses import replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.delivery_tables import inbox
from services.common.errors import Problem
from services.scoring import facts
from services.scoring.cards import current_score
from services.scoring.context import ScoringContext
from services.scoring.in_use import load_in_use
from services.scoring.models import customers, model_fits, purchase_lines, score_changes, scores
from services.scoring.schemas import (
    FitOut, HealthOut, IndicatorOut, Interval, ModelStatus, ScoreOut, StatsOut, Summary,
)
from services.scoring.scores.lifecycle import PROSPECT
from services.scoring.scores.scorecard import Scorecard, moment_of, score_customer

CONSUMER = "scoring"
ORDERINGS = {"clv": scores.c.clv, "health": scores.c.health, "p_alive": scores.c.p_alive}


async def known_customer(session: AsyncSession, customer_id: str) -> str:
    """The customer's id, or the survivor's when it was merged; 404 when scoring never heard of it."""
    found = await session.scalar(sa.select(customers.c.customer_id).where(customers.c.customer_id == customer_id))
    if found is None:
        raise Problem(404, "Not found", f"no scores for customer {customer_id}", field="customer_id")
    return await facts.survivor_of(session, customer_id)


async def score_at(session: AsyncSession, ctx: ScoringContext, customer_id: str, as_of: datetime | None) -> ScoreOut:
    """The card computed from the facts known at `as_of` (now when not given)."""
    if not ctx.in_use.loaded:
        await load_in_use(session, ctx)
    customer_id = await known_customer(session, customer_id)
    moment = as_of or ctx.now()
    known = await facts.load_facts(session, customer_id)
    known = replace(
        known, answers={kind: answer for kind, answer in known.answers.items() if answer.answered_at <= moment},
        complaints=[c for c in known.complaints if c.opened_at is None or c.opened_at <= moment],
    )
    previous = await current_score(session, customer_id)
    card = score_customer(known, calibration=ctx.in_use.calibration, standard=ctx.in_use.standard, as_of=moment,
                          previous_stage=PROSPECT if previous is None or as_of is not None else previous.stage)
    return score_out(customer_id, card, fit_id=ctx.in_use.calibration.fit_id)


def score_out(customer_id: str, card: Scorecard, *, fit_id: int | None) -> ScoreOut:
    summary, predictions = card.summary, card.predictions
    health = card.health
    return ScoreOut(
        customer_id=customer_id, as_of=card.as_of,
        summary=None if summary is None else Summary(
            frequency=summary.frequency, recency=summary.recency, T=summary.T, monetary=summary.monetary,
            total_spend=summary.total_spend, first_purchase_at=moment_of(summary.first_day),
            last_purchase_at=moment_of(summary.last_day)),
        p_alive=None if predictions is None else predictions.p_alive,
        expected_purchases=None if predictions is None else {str(d): v for d, v in predictions.expected_purchases.items()},
        expected_order_value=None if predictions is None else predictions.expected_order_value,
        clv=None if predictions is None else predictions.clv,
        clv_interval=None if predictions is None or predictions.clv_interval is None else Interval(
            low=predictions.clv_interval[0], high=predictions.clv_interval[1]),
        clv_percentile=card.clv_percentile, rfm=card.rfm,
        health=HealthOut(score=health.score, standard_version=health.standard_version, left_out=list(health.left_out),
                         indicators=[IndicatorOut(**vars(i)) for i in health.indicators]),
        tier=card.tier, stage=card.stage, next_threshold_at=card.next_threshold_at, model_fit_id=fit_id,
    )


async def history(session: AsyncSession, customer_id: str, *, limit: int) -> list:
    customer_id = await known_customer(session, customer_id)
    return (await session.execute(
        sa.select(score_changes).where(score_changes.c.customer_id == customer_id)
        .order_by(score_changes.c.changed_at.desc(), score_changes.c.id.desc()).limit(limit)
    )).all()


def _encode(value: float | None, customer_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([value, customer_id]).encode()).decode()


def _decode(cursor: str) -> tuple[float | None, str]:
    try:
        value, customer_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return (None if value is None else float(value)), str(customer_id)
    except (ValueError, TypeError) as error:
        raise Problem(400, "Invalid cursor", "cursor is not one this API returned", field="cursor") from error


async def segment(session: AsyncSession, *, tier: str | None, stage: str | None, min_health: float | None,
                  max_p_alive: float | None, order_by: str, cursor: str | None, limit: int) -> tuple[list, str | None]:
    """Scores matching every filter, best first by `order_by` (customers without that number last)."""
    column = ORDERINGS[order_by]
    # A number to sort on for everyone: below every real value when missing.
    key = sa.func.coalesce(column, -1.0)
    query = sa.select(scores)
    filters = {scores.c.tier.__eq__: tier, scores.c.stage.__eq__: stage,
               scores.c.health.__ge__: min_health, scores.c.p_alive.__le__: max_p_alive}
    for condition, wanted in filters.items():
        if wanted is not None:
            query = query.where(condition(wanted))
    if cursor:
        value, last_id = _decode(cursor)
        query = query.where(sa.or_(key < value, sa.and_(key == value, scores.c.customer_id > last_id)))
    rows = (await session.execute(query.order_by(key.desc(), scores.c.customer_id).limit(limit + 1))).all()
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    value = getattr(last, order_by)
    return rows[:limit], _encode(-1.0 if value is None else value, last.customer_id)


def fit_out(row) -> FitOut:
    return FitOut(
        id=row.id, model=row.model, status=row.status, in_use=row.in_use, as_of=row.as_of, fitted_at=row.fitted_at,
        population=row.population, converged=row.converged, log_likelihood=row.log_likelihood, message=row.message,
        parameters=row.purchase["params"], standard_errors=row.purchase.get("standard_errors"),
        order_value_parameters=row.order_value["params"], order_value_standard_errors=row.order_value.get("standard_errors"),
    )


async def model_status(session: AsyncSession) -> ModelStatus:
    newest_first = sa.select(model_fits).order_by(model_fits.c.id.desc()).limit(1)
    in_use = (await session.execute(newest_first.where(model_fits.c.in_use))).first()
    latest = (await session.execute(newest_first)).first()
    return ModelStatus(in_use=None if in_use is None else fit_out(in_use), latest=None if latest is None else fit_out(latest))


async def stats(session: AsyncSession, *, consumer_lag: int | None) -> StatsOut:
    return StatsOut(
        customers=await session.scalar(sa.select(sa.func.count()).select_from(customers).where(customers.c.merged_into.is_(None))),
        purchases=await session.scalar(sa.select(sa.func.count()).select_from(purchase_lines).where(purchase_lines.c.kind == "purchase")),
        events_applied=await session.scalar(sa.select(sa.func.count()).select_from(inbox).where(inbox.c.consumer == CONSUMER)),
        last_event_at=await session.scalar(sa.select(sa.func.max(inbox.c.processed_at)).where(inbox.c.consumer == CONSUMER)),
        consumer_lag=consumer_lag,
    )
