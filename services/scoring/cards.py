"""Re-scoring one customer: facts in, scorecard out, stored; real changes become events and history,
and the churn timer moves to the next threshold crossing."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.catalog import LifecycleChanged, ScoreUpdated, TierChanged
from services.common.delivery_tables import timers
from services.common.timeutil import as_utc, utcnow
from services.scoring.context import ScoringContext
from services.common.bulk import any_of, insert_rows, upsert_rows
from services.scoring.facts import load_facts_of
from services.scoring.in_use import load_in_use
from services.scoring.models import score_changes, scores
from services.scoring.scores.health import HealthExplanation, IndicatorExplanation, compare_explanations
from services.scoring.scores.lifecycle import PROSPECT
from services.scoring.scores.scorecard import Changes, Scorecard, StoredCard, changes_between, score_customers
from services.scoring.scores.tiers import UNRATED

CHURN_TIMER = "churn"


def explanation_to_json(explanation: HealthExplanation) -> dict:
    return {"standard_version": explanation.standard_version, "score": explanation.score,
            "indicators": [dict(vars(indicator)) for indicator in explanation.indicators]}


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


# What the next card and its events depend on; the stored explanation is read only for a health that moved.
PREVIOUS = (scores.c.customer_id, scores.c.stage, scores.c.tier, scores.c.last_purchase_day, scores.c.reported_health,
            scores.c.next_threshold_at)


async def current_scores(session: AsyncSession, customer_ids: list[str]) -> dict:
    found = {}
    for owner in any_of(session, scores.c.customer_id, customer_ids):
        found.update((row.customer_id, row) for row in await session.execute(sa.select(*PREVIOUS).where(owner)))
    return found


async def stored_explanations(session: AsyncSession, customer_ids: list[str]) -> dict[str, dict]:
    found = {}
    for owner in any_of(session, scores.c.customer_id, sorted(customer_ids)):
        found.update((await session.execute(sa.select(scores.c.customer_id, scores.c.explanation).where(owner))).all())
    return found


@dataclass(frozen=True)
class Rescore:
    """Why a customer is re-scored, and whether only backfilled events asked for it."""

    reason: str
    backfill: bool = False

    def after(self, earlier: "Rescore | None") -> "Rescore":
        """Asked again: the latest reason is kept; backfill only if every event asking was."""
        return self if earlier is None else Rescore(self.reason, self.backfill and earlier.backfill)


async def rescore(session: AsyncSession, ctx: ScoringContext, customer_id: str, *, reason: str, backfill: bool = False,
                  as_of: datetime | None = None) -> Scorecard:
    """Scores the customer from their stored facts and stores the card; a card that moved is published."""
    return (await rescore_many(session, ctx, {customer_id: Rescore(reason, backfill)}, as_of=as_of))[customer_id]


async def rescore_many(session: AsyncSession, ctx: ScoringContext, wanted: dict[str, Rescore], *,
                       as_of: datetime | None = None) -> dict[str, Scorecard]:
    """Scores the customers from their stored facts with a few queries for all of them, and stores
    the cards in bulk; cards that moved are published."""
    if not ctx.in_use.loaded:
        await load_in_use(session, ctx)
    customer_ids = sorted(wanted)
    known = await load_facts_of(session, customer_ids)
    previous = await current_scores(session, customer_ids)
    as_of = as_of or ctx.now()
    stored = [StoredCard() if customer_id not in previous else
              StoredCard(previous[customer_id].stage, previous[customer_id].last_purchase_day) for customer_id in customer_ids]
    cards = score_customers(list(zip((known[customer_id] for customer_id in customer_ids), stored)),
                            calibration=ctx.in_use.calibration, standard=ctx.in_use.standard, as_of=as_of)
    cards = dict(zip(customer_ids, cards))
    await store_many(session, ctx, cards, previous, wanted)
    return cards


async def store_many(session: AsyncSession, ctx: ScoringContext, cards: dict[str, Scorecard], previous: dict,
                     wanted: dict[str, Rescore]) -> None:
    rows, moved, events, timers = [], {}, {False: [], True: []}, {}
    for customer_id, card in cards.items():
        before, why = previous.get(customer_id), wanted[customer_id]
        changes = changes_between(
            reported_health=None if before is None else before.reported_health,
            previous_tier=UNRATED if before is None else before.tier,
            previous_stage=PROSPECT if before is None else before.stage,
            card=card, step=ctx.in_use.standard.score_change_step,
        )
        reported = card.health.score if changes.health_moved else (None if before is None else before.reported_health)
        rows.append({"customer_id": customer_id, **score_row(card, fit_id=ctx.in_use.calibration.fit_id, reported_health=reported)})
        if changes.any:
            moved[customer_id] = changes
            events[why.backfill].extend(_change_events(customer_id, card, before, changes))
        if card.next_threshold_at != (None if before is None else before.next_threshold_at):
            timers[customer_id] = card.next_threshold_at
    explained = await stored_explanations(session, [customer_id for customer_id, changes in moved.items()
                                                    if changes.health_moved and customer_id in previous])
    history = [_change_row(customer_id, cards[customer_id], previous.get(customer_id), changes, wanted[customer_id],
                           explained.get(customer_id)) for customer_id, changes in moved.items()]
    await upsert_rows(session, scores, "customer_id", rows)
    await insert_rows(session, score_changes, history)
    for backfill, payloads in events.items():
        if payloads:
            await ctx.events.add_rows(session, ctx.events.outbox_rows_of_data(payloads, backfill=backfill))
    await _move_churn_timers(session, timers)


async def _move_churn_timers(session: AsyncSession, due: dict[str, datetime | None]) -> None:
    """schedule_timer and cancel_timer of services.common.timers, for many customers at once."""
    if not due:
        return
    for customer in any_of(session, timers.c.key, sorted(due)):
        await session.execute(sa.delete(timers).where(timers.c.kind == CHURN_TIMER, customer))
    created = utcnow()
    moved = [{"kind": CHURN_TIMER, "key": customer_id, "due_at": as_utc(due_at), "payload": {}, "attempts": 0,
              "created_at": created} for customer_id, due_at in sorted(due.items()) if due_at is not None]
    await insert_rows(session, timers, moved)
    session.info["timers_changed"] = True


def _change_row(customer_id: str, card: Scorecard, previous, changes: Changes, why: Rescore,
                previous_explanation: dict | None) -> dict:
    return {
        "customer_id": customer_id, "changed_at": card.as_of, "reason": why.reason, "backfill": why.backfill,
        "standard_version": card.health.standard_version, "health": card.health.score,
        "previous_health": None if previous is None else previous.reported_health,
        "clv": None if card.predictions is None else card.predictions.clv,
        "p_alive": None if card.predictions is None else card.predictions.p_alive,
        "tier": card.tier, "previous_tier": UNRATED if previous is None else previous.tier,
        "stage": card.stage, "previous_stage": PROSPECT if previous is None else previous.stage,
        "reactivated": card.reactivated and changes.stage_changed, "why": _why(previous_explanation, card) if changes.health_moved else [],
    }


def _change_events(customer_id: str, card: Scorecard, previous, changes: Changes) -> list[tuple[type, dict]]:
    """The card's events as their models' JSON form (`model_dump(mode="json", exclude_none=True)`),
    built directly: a re-score of a million customers writes three million, and a model each was a
    fifth of its CPU. Tests hold the two equal; numbers are made plain floats and bools for orjson."""
    p_alive = None if card.predictions is None else float(card.predictions.p_alive)
    clv = None if card.predictions is None else float(card.predictions.clv)
    events = []
    if changes.health_moved:
        events.append((ScoreUpdated, _present({
            "customer_id": customer_id, "health": float(card.health.score),
            "previous_health": None if previous is None or previous.reported_health is None else float(previous.reported_health),
            "p_alive": p_alive, "clv": clv, "rfm": card.rfm, "standard_version": int(card.health.standard_version),
            "scored_at": card.as_of,
        })))
    if changes.tier_changed:
        events.append((TierChanged, _present({
            "customer_id": customer_id, "tier": card.tier, "previous_tier": UNRATED if previous is None else previous.tier,
            "clv": clv, "changed_at": card.as_of,
        })))
    if changes.stage_changed:
        events.append((LifecycleChanged, _present({
            "customer_id": customer_id, "stage": card.stage, "previous_stage": PROSPECT if previous is None else previous.stage,
            "reactivated": bool(card.reactivated), "p_alive": p_alive, "changed_at": card.as_of,
        })))
    return events


def _present(data: dict) -> dict:
    return {name: value for name, value in data.items() if value is not None}


def _why(previous_explanation: dict | None, card: Scorecard) -> list[dict]:
    """Each indicator's share of the move since the last stored card (the core's comparison)."""
    if previous_explanation is None:
        return []
    move = compare_explanations(explanation_from_json(previous_explanation), card.health)
    return [{"indicator": m.indicator, "change": m.change, "sub_score_before": m.sub_score_before,
             "sub_score_after": m.sub_score_after} for m in move.moves if m.change != 0]
