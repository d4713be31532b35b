"""Re-scoring one customer: facts in, scorecard out, stored; real changes become events and history,
and the churn timer moves to the next threshold crossing."""

import math
from dataclasses import asdict
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.catalog import LifecycleChanged, ScoreUpdated, TierChanged
from services.common.timers import cancel_timer, schedule_timer
from services.scoring.context import ScoringContext
from services.scoring.facts import load_facts
from services.scoring.in_use import load_in_use
from services.scoring.models import score_changes, scores
from services.scoring.scores.health import HealthExplanation, IndicatorExplanation, compare_explanations
from services.scoring.scores.lifecycle import PROSPECT
from services.scoring.scores.scorecard import Changes, Scorecard, changes_between, day_number, score_customer, summarise
from services.scoring.scores.tiers import UNRATED

CHURN_TIMER = "churn"


def explanation_to_json(explanation: HealthExplanation) -> dict:
    return {"standard_version": explanation.standard_version, "score": explanation.score,
            "indicators": [asdict(indicator) for indicator in explanation.indicators]}


def explanation_from_json(data: dict) -> HealthExplanation:
    return HealthExplanation(data["standard_version"], data["score"],
                             tuple(IndicatorExplanation(**indicator) for indicator in data["indicators"]))


def score_row(card: Scorecard, *, fit_id: int | None, reported_health: float | None) -> dict:
    summary, predictions = card.summary, card.predictions
    row = {
        "scored_at": card.as_of, "fit_id": fit_id, "standard_version": card.health.standard_version,
        "purchase_periods": card.purchase_periods,
        "first_purchase_day": None if summary is None else int(summary.first_day),
        "last_purchase_day": None if summary is None else int(summary.last_day),
        "total_spend": 0.0 if summary is None else summary.total_spend,
        "rfm": card.rfm, "health": card.health.score, "reported_health": reported_health,
        "explanation": explanation_to_json(card.health), "tier": card.tier, "stage": card.stage,
        "next_threshold_at": card.next_threshold_at,
    }
    for name in ("frequency", "recency", "T", "monetary"):
        row[name] = None if summary is None else getattr(summary, name)
    row |= {"p_alive": None, "expected_purchases_30": None, "expected_purchases_90": None, "expected_purchases_365": None,
            "expected_order_value": None, "clv": None, "clv_low": None, "clv_high": None}
    if predictions is not None:
        row |= {"p_alive": predictions.p_alive, "expected_order_value": predictions.expected_order_value, "clv": predictions.clv}
        row |= {f"expected_purchases_{days}": value for days, value in predictions.expected_purchases.items()}
        if predictions.clv_interval is not None:
            row["clv_low"], row["clv_high"] = predictions.clv_interval
    return row


async def current_score(session: AsyncSession, customer_id: str):
    return (await session.execute(sa.select(scores).where(scores.c.customer_id == customer_id))).first()


async def rescore(session: AsyncSession, ctx: ScoringContext, customer_id: str, *, reason: str, backfill: bool = False,
                  as_of: datetime | None = None) -> Scorecard:
    """Scores the customer from their stored facts and stores the card; a card that moved is published."""
    if not ctx.in_use.loaded:
        await load_in_use(session, ctx)
    facts = await load_facts(session, customer_id)
    previous = await current_score(session, customer_id)
    as_of = as_of or ctx.now()
    summary = summarise(facts.purchase_lines, as_of_day=math.floor(day_number(as_of)))
    # A new latest purchase period: from at_risk or churned that is a reactivation.
    purchased = summary is not None and (previous is None or previous.last_purchase_day is None
                                         or summary.last_day > previous.last_purchase_day)
    card = score_customer(facts, calibration=ctx.in_use.calibration, standard=ctx.in_use.standard, as_of=as_of,
                          previous_stage=PROSPECT if previous is None else previous.stage, purchased=purchased)
    await store(session, ctx, customer_id, card, previous, reason=reason, backfill=backfill)
    return card


async def store(session: AsyncSession, ctx: ScoringContext, customer_id: str, card: Scorecard, previous, *,
                reason: str, backfill: bool) -> Changes:
    changes = changes_between(
        reported_health=None if previous is None else previous.reported_health,
        previous_tier=UNRATED if previous is None else previous.tier,
        previous_stage=PROSPECT if previous is None else previous.stage,
        card=card, step=ctx.in_use.standard.score_change_step,
    )
    reported = card.health.score if changes.health_moved else (None if previous is None else previous.reported_health)
    row = score_row(card, fit_id=ctx.in_use.calibration.fit_id, reported_health=reported)
    if previous is None:
        await session.execute(sa.insert(scores).values(customer_id=customer_id, **row))
    else:
        await session.execute(sa.update(scores).where(scores.c.customer_id == customer_id).values(**row))
    if changes.any:
        await _record_change(session, ctx, customer_id, card, previous, changes, reason=reason, backfill=backfill)
    previous_due = None if previous is None else previous.next_threshold_at
    if card.next_threshold_at != previous_due:
        await _move_churn_timer(session, customer_id, card.next_threshold_at)
    return changes


async def _move_churn_timer(session: AsyncSession, customer_id: str, due_at: datetime | None) -> None:
    if due_at is None:
        await cancel_timer(session, kind=CHURN_TIMER, key=customer_id)
    else:
        await schedule_timer(session, kind=CHURN_TIMER, key=customer_id, due_at=due_at, payload={})


async def _record_change(session: AsyncSession, ctx: ScoringContext, customer_id: str, card: Scorecard, previous,
                         changes: Changes, *, reason: str, backfill: bool) -> None:
    previous_tier = UNRATED if previous is None else previous.tier
    previous_stage = PROSPECT if previous is None else previous.stage
    why = _why(previous, card) if changes.health_moved else []
    p_alive = None if card.predictions is None else card.predictions.p_alive
    clv = None if card.predictions is None else card.predictions.clv
    await session.execute(sa.insert(score_changes).values(
        customer_id=customer_id, changed_at=card.as_of, reason=reason, backfill=backfill,
        standard_version=card.health.standard_version, health=card.health.score,
        previous_health=None if previous is None else previous.reported_health, clv=clv, p_alive=p_alive,
        tier=card.tier, previous_tier=previous_tier, stage=card.stage, previous_stage=previous_stage,
        reactivated=card.reactivated and changes.stage_changed, why=why,
    ))
    events = []
    if changes.health_moved:
        events.append(ScoreUpdated(
            customer_id=customer_id, health=card.health.score, previous_health=None if previous is None else previous.reported_health,
            p_alive=p_alive, clv=clv, rfm=card.rfm, standard_version=card.health.standard_version, scored_at=card.as_of,
        ))
    if changes.tier_changed:
        events.append(TierChanged(customer_id=customer_id, tier=card.tier, previous_tier=previous_tier, clv=clv, changed_at=card.as_of))
    if changes.stage_changed:
        events.append(LifecycleChanged(customer_id=customer_id, stage=card.stage, previous_stage=previous_stage,
                                       reactivated=card.reactivated, p_alive=p_alive, changed_at=card.as_of))
    await ctx.events.add_many(session, events, backfill=backfill)


def _why(previous, card: Scorecard) -> list[dict]:
    """Each indicator's share of the move since the last stored card (the core's comparison)."""
    if previous is None:
        return []
    move = compare_explanations(explanation_from_json(previous.explanation), card.health)
    return [{"indicator": m.indicator, "change": m.change, "sub_score_before": m.sub_score_before,
             "sub_score_after": m.sub_score_after} for m in move.moves if m.change != 0]
