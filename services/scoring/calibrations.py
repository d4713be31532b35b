"""Refits and new evaluation standards: store them, put them in use, re-score everyone."""

import asyncio
import math
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import datetime
from functools import partial

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.cards import Rescore, rescore_many
from services.scoring.context import ScoringContext
from services.scoring.in_use import fit_in_use, load_in_use, load_standard
from services.scoring.models import customers, evaluation_standards, model_fits, purchase_lines
from services.scoring.scores.calibration import PRIORS, CalibrationRecord, Population, calibrate, calibration_of
from services.scoring.scores.scorecard import day_number
from services.scoring.scores.standard import EvaluationStandard
from services.scoring.scores.summary import UNITS_PER_CURRENCY, summarise_purchases

REFIT_LOCK_POLL_SECONDS = 0.2
POPULATION_SLICE = 50_000  # purchase lines read at a time for a refit


async def save_standard(session: AsyncSession, body: dict, *, created_at: datetime, created_by: str | None) -> EvaluationStandard:
    """A new version, numbered after the newest; raises InvalidStandard naming the field."""
    newest = await session.scalar(sa.select(sa.func.max(evaluation_standards.c.version))) or 1
    standard = EvaluationStandard.from_dict({**body, "version": newest + 1})
    await session.execute(sa.insert(evaluation_standards).values(
        version=standard.version, body=standard.to_dict(), created_at=created_at, created_by=created_by))
    return standard


async def load_population(session: AsyncSession, *, as_of: datetime) -> Population:
    """Every customer's summary, read in slices in customer order and summarised slice by slice
    (the summary of all 1.85 million lines of a million customers at once held 287 MB of
    temporaries); only the numbers per customer are kept, no id."""
    as_of_day = math.floor(day_number(as_of))
    pieces, pending = [], None  # pending: the lines of the slice's last customer, who may go on in the next slice
    rows = await session.stream(
        sa.select(purchase_lines.c.customer_id, purchase_lines.c.day, purchase_lines.c.units)
        .where(purchase_lines.c.day <= as_of_day).order_by(purchase_lines.c.customer_id)
    )
    async for part in rows.partitions(POPULATION_SLICE):
        lines = (np.array([row[0] for row in part], dtype=object),
                 np.fromiter((row[1] for row in part), dtype=float, count=len(part)),
                 np.fromiter((row[2] for row in part), dtype=float, count=len(part)))
        if pending is not None:
            lines = tuple(np.concatenate([before, now]) for before, now in zip(pending, lines))
        complete = lines[0] != lines[0][-1]
        pieces.append(_summary_of(*(column[complete] for column in lines), as_of_day=as_of_day))
        pending = tuple(column[~complete] for column in lines)
    if pending is not None:
        pieces.append(_summary_of(*pending, as_of_day=as_of_day))
    if not pieces:
        empty = np.zeros(0)
        return Population(empty, empty, empty, empty, empty)
    return Population(*(np.concatenate([getattr(piece, name) for piece in pieces]) for name in
                        ("frequency", "recency", "T", "monetary", "total_spend")))


def _summary_of(ids: np.ndarray, days: np.ndarray, units: np.ndarray, *, as_of_day: int):
    """The summaries of lines sorted by customer; customers coded by their order."""
    code = np.cumsum(np.concatenate([[True], ids[1:] != ids[:-1]])) - 1 if ids.size else np.zeros(0, dtype=np.int64)
    return summarise_purchases(code, days, units / UNITS_PER_CURRENCY, as_of=as_of_day)


@asynccontextmanager
async def _refit_turn(ctx: ScoringContext):
    """One refit at a time across all instances: the last one stored is the one in use everywhere."""
    while not await ctx.refit_lock.try_acquire():
        await asyncio.sleep(REFIT_LOCK_POLL_SECONDS)
    try:
        yield
    finally:
        await ctx.refit_lock.release()


async def refit(ctx: ScoringContext, *, as_of: datetime | None = None, model: str | None = None) -> int:
    """Fits, stores the fit with its statistics, and when it is usable re-scores everyone with it."""
    async with _refit_turn(ctx):
        return await _refit(ctx, as_of=as_of, model=model)


async def _refit(ctx: ScoringContext, *, as_of: datetime | None, model: str | None) -> int:
    as_of = as_of or ctx.now()
    settings = ctx.scoring_settings
    async with ctx.database.sessions() as session:
        population = await load_population(session, as_of=as_of)
    # CPU-heavy and pure: off the event loop.
    record = await ctx.offload.run(partial(
        calibrate, population, model=model or settings.scoring_model, min_population=settings.scoring_min_population,
        purchase_priors=settings.purchase_priors(), order_value_priors=settings.order_value_priors(),
        months=settings.scoring_horizon_months, monthly_discount=settings.scoring_monthly_discount,
    ))
    async with ctx.database.transaction() as session:
        fit_id = await _store(session, record, as_of=as_of, fitted_at=ctx.now())
    if record.usable:
        ctx.in_use.calibration = calibration_of(record, fit_id=fit_id, months=settings.scoring_horizon_months,
                                         monthly_discount=settings.scoring_monthly_discount)
        await rescore_everyone(ctx, reason="refit")
    return fit_id


async def _store(session: AsyncSession, record: CalibrationRecord, *, as_of: datetime, fitted_at: datetime) -> int:
    if record.usable:
        await session.execute(sa.update(model_fits).where(model_fits.c.in_use).values(in_use=False))
    values = asdict(record)
    return (await session.execute(sa.insert(model_fits).values(
        **values, in_use=record.usable, as_of=as_of, fitted_at=fitted_at,
    ).returning(model_fits.c.id))).scalar_one()


async def rescore_everyone(ctx: ScoringContext, *, reason: str) -> int:
    """Every customer, in batches of one transaction each; only real changes become events.

    On PostgreSQL several batches are in flight (two by default): while one waits for the server to
    write its cards, another is scored, so the server's work and the scoring share the cores instead
    of taking turns. SQLite has one writer: one batch at a time there."""
    # With the newest standard: a refit on an instance that has not yet noticed a standard stored by
    # another would otherwise re-score everyone with the old one (tiers and churn timers moved back).
    async with ctx.database.sessions() as session:
        ctx.in_use.standard = await load_standard(session, ctx.scoring_settings)
    batches = _CustomerBatches(ctx)
    done = 0

    async def lane() -> None:
        nonlocal done
        while batch := await batches.next():
            async with ctx.database.transaction() as session:
                await rescore_many(session, ctx, {customer_id: Rescore(reason) for customer_id in batch})
            done += len(batch)

    async with asyncio.TaskGroup() as lanes:
        for _ in range(ctx.scoring_settings.scoring_rescore_lanes if ctx.database.is_postgres else 1):
            lanes.create_task(lane())
    return done


class _CustomerBatches:
    """The customers (survivors of merges) in id order, a batch at a time, to any number of lanes."""

    def __init__(self, ctx: ScoringContext):
        self.ctx = ctx
        self.after = ""
        self.turn = asyncio.Lock()

    async def next(self) -> list[str]:
        async with self.turn:
            async with self.ctx.database.sessions() as session:
                batch = (await session.scalars(
                    sa.select(customers.c.customer_id)
                    .where(customers.c.merged_into.is_(None), customers.c.customer_id > self.after)
                    .order_by(customers.c.customer_id).limit(self.ctx.scoring_settings.scoring_rescore_batch)
                )).all()
            if batch:
                self.after = batch[-1]
            return list(batch)


async def refresh_in_use(ctx: ScoringContext) -> None:
    """Picks up a calibration or standard that another instance stored."""
    async with ctx.database.sessions() as session:
        fit = await fit_in_use(session)
        version = await session.scalar(sa.select(sa.func.max(evaluation_standards.c.version)))
        stale = (None if fit is None else fit.id) != ctx.in_use.calibration.fit_id \
            or (version or ctx.in_use.standard.version) != ctx.in_use.standard.version
        if stale or not ctx.in_use.loaded:
            await load_in_use(session, ctx)


async def refit_when_due(ctx: ScoringContext) -> None:
    """The scheduled refit: when no model was fitted yet, when the newest fit is an interval old, or
    while the priors are in use and the buyers are no longer those they were calibrated on (so that
    a young deployment's first buyers get percentiles and tiers, and its first fit, within a minute)."""
    async with _refit_turn(ctx):
        async with ctx.database.sessions() as session:
            newest = (await session.execute(sa.select(model_fits.c.fitted_at, model_fits.c.status, model_fits.c.population)
                                            .order_by(model_fits.c.id.desc()).limit(1))).first()
            buyers = await session.scalar(sa.select(sa.func.count(sa.distinct(purchase_lines.c.customer_id)))) \
                if newest is not None and newest.status == PRIORS else None
        interval = ctx.scoring_settings.scoring_refit_interval_seconds
        if newest is None or (ctx.now() - newest.fitted_at).total_seconds() >= interval \
                or (buyers is not None and buyers != newest.population):
            await _refit(ctx, as_of=None, model=None)


async def refresh_standard(session: AsyncSession, ctx: ScoringContext) -> None:
    if not ctx.in_use.loaded:
        await load_in_use(session, ctx)


async def replace_standard(ctx: ScoringContext, body: dict, *, created_by: str | None) -> EvaluationStandard:
    """Stores a new version, puts it in use, and re-scores everyone so that every score names it."""
    body = {"score_change_step": ctx.scoring_settings.scoring_health_step, **body}
    async with ctx.database.transaction() as session:
        standard = await save_standard(session, body, created_at=ctx.now(), created_by=created_by)
    ctx.in_use.standard = standard
    await rescore_everyone(ctx, reason="standard")
    return standard
