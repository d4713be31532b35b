"""The calibration and evaluation standard in use: stored ones, or the configured priors and defaults."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.context import ScoringContext
from services.scoring.models import evaluation_standards, model_fits
from services.scoring.scores.calibration import PRIORS, CalibrationRecord, calibration_of
from services.scoring.scores.scorecard import Calibration
from services.scoring.scores.standard import EvaluationStandard
from services.scoring.settings import ScoringSettings


def default_standard(settings: ScoringSettings) -> EvaluationStandard:
    return EvaluationStandard(score_change_step=settings.scoring_health_step)


async def load_standard(session: AsyncSession, settings: ScoringSettings) -> EvaluationStandard:
    body = await session.scalar(sa.select(evaluation_standards.c.body).order_by(evaluation_standards.c.version.desc()).limit(1))
    return default_standard(settings) if body is None else EvaluationStandard.from_dict(body)


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


async def load_in_use(session: AsyncSession, ctx: ScoringContext) -> None:
    ctx.in_use.calibration = await load_calibration(session, ctx.scoring_settings)
    ctx.in_use.standard = await load_standard(session, ctx.scoring_settings)
    ctx.in_use.loaded = True
