"""Refits and the stored calibration and evaluation standard: load them, replace them, re-score everyone."""

import asyncio
import math
from dataclasses import asdict
from datetime import datetime

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.cards import rescore
from services.scoring.context import ScoringContext
from services.scoring.models import customers, evaluation_standards, model_fits, purchase_lines
from services.scoring.scores.calibration import PRIORS, CalibrationRecord, Population, calibrate, calibration_of
from services.scoring.scores.scorecard import Calibration, day_number
from services.scoring.scores.standard import EvaluationStandard
from services.scoring.scores.summary import UNITS_PER_CURRENCY, summarise_purchases
from services.scoring.settings import ScoringSettings


def default_standard(settings: ScoringSettings) -> EvaluationStandard:
    return EvaluationStandard(score_change_step=settings.scoring_health_step)


async def load_standard(session: AsyncSession, settings: ScoringSettings) -> EvaluationStandard:
    body = await session.scalar(sa.select(evaluation_standards.c.body).order_by(evaluation_standards.c.version.desc()).limit(1))
    return default_standard(settings) if body is None else EvaluationStandard.from_dict(body)


async def save_standard(session: AsyncSession, body: dict, *, created_at: datetime, created_by: str | None) -> EvaluationStandard:
    """A new version, numbered after the newest; raises InvalidStandard naming the field."""
    newest = await session.scalar(sa.select(sa.func.max(evaluation_standards.c.version))) or 1
    standard = EvaluationStandard.from_dict({**body, "version": newest + 1})
    await session.execute(sa.insert(evaluation_standards).values(
        version=standard.version, body=standard.to_dict(), created_at=created_at, created_by=created_by))
    return standard


def _record_of(row) -> CalibrationRecord:
    return CalibrationRecord(model=row.model, status=row.status, population=row.population, converged=row.converged,
                             log_likelihood=row.log_likelihood, message=row.message, purchase=row.purchase,
                             order_value=row.order_value, clv_grid=row.clv_grid, rfm_edges=row.rfm_edges)


async def fit_in_use(session: AsyncSession):
    return (await session.execute(sa.select(model_fits).where(model_fits.c.in_use).order_by(model_fits.c.id.desc()).limit(1))).first()


def priors_calibration(settings: ScoringSettings) -> Calibration:
    record = CalibrationRecord(
        model=settings.scoring_model, status=PRIORS, population=0, converged=False, log_likelihood=None, message="priors",
        purchase={"params": settings.purchase_priors()}, order_value={"params": settings.order_value_priors()},
        clv_grid=[], rfm_edges={},
    )
    return calibration_of(record, fit_id=None, months=settings.scoring_horizon_months,
                          monthly_discount=settings.scoring_monthly_discount)


async def load_calibration(session: AsyncSession, settings: ScoringSettings) -> Calibration:
    row = await fit_in_use(session)
    if row is None:
        return priors_calibration(settings)
    return calibration_of(_record_of(row), fit_id=row.id, months=settings.scoring_horizon_months,
                          monthly_discount=settings.scoring_monthly_discount)


async def load_population(session: AsyncSession, *, as_of: datetime) -> Population:
    as_of_day = math.floor(day_number(as_of))
    rows = (await session.execute(
        sa.select(purchase_lines.c.customer_id, purchase_lines.c.day, purchase_lines.c.units)
        .where(purchase_lines.c.day <= as_of_day)
    )).all()
    if not rows:
        empty = np.zeros(0)
        return Population(empty, empty, empty, empty, empty)
    customer, day, units = zip(*rows)
    summary = summarise_purchases(np.array(customer, dtype=object), np.array(day, dtype=float),
                                  np.array(units, dtype=float) / UNITS_PER_CURRENCY, as_of=as_of_day)
    return Population(summary.frequency, summary.recency, summary.T, summary.monetary, summary.total_spend)


async def refit(ctx: ScoringContext, *, as_of: datetime | None = None, model: str | None = None) -> int:
    """Fits, stores the fit with its statistics, and when it is usable re-scores everyone with it."""
    as_of = as_of or ctx.now()
    settings = ctx.settings
    async with ctx.database.sessions() as session:
        population = await load_population(session, as_of=as_of)
    # CPU-heavy and pure: off the event loop.
    record = await asyncio.to_thread(
        calibrate, population, model=model or settings.scoring_model, min_population=settings.scoring_min_population,
        purchase_priors=settings.purchase_priors(), order_value_priors=settings.order_value_priors(),
        months=settings.scoring_horizon_months, monthly_discount=settings.scoring_monthly_discount,
    )
    async with ctx.database.transaction() as session:
        fit_id = await _store(session, record, as_of=as_of, fitted_at=ctx.now())
    if record.usable:
        ctx.calibration = calibration_of(record, fit_id=fit_id, months=settings.scoring_horizon_months,
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
    """Every customer, in batches of one transaction each; only real changes become events."""
    done, after = 0, ""
    while True:
        async with ctx.database.transaction() as session:
            batch = (await session.scalars(
                sa.select(customers.c.customer_id)
                .where(customers.c.merged_into.is_(None), customers.c.customer_id > after)
                .order_by(customers.c.customer_id).limit(ctx.settings.scoring_rescore_batch)
            )).all()
            for customer_id in batch:
                await rescore(session, ctx, customer_id, reason=reason)
        if not batch:
            return done
        done += len(batch)
        after = batch[-1]
