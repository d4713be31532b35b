"""Routes of the scoring service: validate, call the service functions, shape the answer."""

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse

from services.common.auth import Principal, require
from services.common.deps import service_context
from services.common.errors import Problem
from services.common.negotiation import negotiate
from services.common.pagination import DEFAULT_PAGE_SIZE, Limit, Page
from services.scoring import calibrations, lookups, reports
from services.scoring.context import ScoringContext
from services.scoring.schemas import (
    ModelStatus, RefitRequest, ScoreChangeOut, ScoreListItem, ScoreOut, StandardIn, StandardOut, Stage, StatsOut, Tier,
)
from services.scoring.scores.standard import InvalidStandard
from services.scoring.summary_page import render_summary_page



ContextDep = Annotated[ScoringContext, Depends(service_context)]
Reader = Annotated[Principal, Depends(require("scores:read"))]

router = APIRouter(prefix="/v1")


@router.get("/customers/{customer_id}/score", response_model=ScoreOut, tags=["scores"],
            summary="A customer's numbers now, or as of a moment (from the purchases known by then)")
async def get_score(customer_id: str, ctx: ContextDep, _: Reader, as_of: datetime | None = None):
    if as_of is not None and as_of.tzinfo is None:
        raise Problem(422, "Validation failed", "needs a time zone, e.g. 2026-01-31T00:00:00Z", field="as_of")
    async with ctx.database.sessions() as session:
        return await lookups.score_at(session, ctx, customer_id, as_of)


@router.get("/customers/{customer_id}/score/history", response_model=list[ScoreChangeOut], tags=["scores"],
            summary="Past scores, and the stage and tier moves with why, newest first")
async def get_history(customer_id: str, ctx: ContextDep, _: Reader, limit: Limit = DEFAULT_PAGE_SIZE):
    async with ctx.database.sessions() as session:
        return [ScoreChangeOut.model_validate(row) for row in await lookups.history(session, customer_id, limit=limit)]


@router.get("/scores", response_model=Page[ScoreListItem], tags=["scores"],
            summary="Segments, e.g. tier=high&stage=at_risk, best first")
async def list_scores(
    ctx: ContextDep, _: Reader, tier: Tier | None = None, stage: Stage | None = None,
    min_health: Annotated[float | None, Query(ge=0, le=100)] = None,
    max_p_alive: Annotated[float | None, Query(ge=0, le=1)] = None,
    order_by: Literal["clv", "health", "p_alive"] = "clv",
    cursor: Annotated[str | None, Query(max_length=500)] = None, limit: Limit = DEFAULT_PAGE_SIZE,
):
    async with ctx.database.sessions() as session:
        rows, next_cursor = await lookups.segment(session, tier=tier, stage=stage, min_health=min_health,
                                                  max_p_alive=max_p_alive, order_by=order_by, cursor=cursor, limit=limit)
    return Page(items=[ScoreListItem.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.get("/models/clv", response_model=ModelStatus, tags=["models"], summary="The CLV models in use and the latest fit")
async def get_model(ctx: ContextDep, _: Reader):
    async with ctx.database.sessions() as session:
        return await lookups.model_status(session)


@router.post("/models/clv:refit", response_model=ModelStatus, tags=["models"],
             summary="Refit now (optionally as of a moment, or another model); everyone is re-scored when it is usable")
async def refit(ctx: ContextDep, _: Annotated[Principal, Depends(require("models:refit"))], body: RefitRequest | None = None):
    body = body or RefitRequest()
    if body.as_of is not None and body.as_of.tzinfo is None:
        raise Problem(422, "Validation failed", "needs a time zone", field="as_of")
    await calibrations.refit(ctx, as_of=body.as_of, model=body.model)
    async with ctx.database.sessions() as session:
        return await lookups.model_status(session)


@router.get("/evaluation-standard", response_model=StandardOut, tags=["standard"], summary="The evaluation standard in use")
async def get_standard(ctx: ContextDep, _: Reader):
    async with ctx.database.sessions() as session:
        await calibrations.refresh_standard(session, ctx)
    return ctx.in_use.standard.to_dict()


@router.put("/evaluation-standard", response_model=StandardOut, tags=["standard"],
            summary="A new version of the standard; everyone is re-scored with it")
async def put_standard(body: StandardIn, ctx: ContextDep, principal: Annotated[Principal, Depends(require("standard:write"))]):
    try:
        standard = await calibrations.replace_standard(ctx, body.model_dump(), created_by=principal.key_id)
    except InvalidStandard as invalid:
        raise Problem(422, "Invalid evaluation standard", str(invalid), field=invalid.field) from invalid
    return standard.to_dict()


SUMMARY_TYPES = ["application/json", "text/csv", "text/html"]


@router.get("/reports/summary", tags=["reports"],
            summary="The period summary (scoring.md §7); CSV with Accept: text/csv, a page for managers with Accept: text/html",
            responses={200: {"content": {"text/csv": {}, "text/html": {}}}, 406: {"description": "None of JSON, CSV or HTML is acceptable"}})
async def summary_report(request: Request, response: Response, ctx: ContextDep, _: Reader,
                         from_: Annotated[datetime, Query(alias="from")], to: datetime):
    for name, moment in (("from", from_), ("to", to)):
        if moment.tzinfo is None:
            raise Problem(422, "Validation failed", "needs a time zone", field=name)
    if to <= from_:
        raise Problem(422, "Validation failed", "must be after from", field="to")
    media_type = negotiate(request.headers.get("accept"), SUMMARY_TYPES)
    async with ctx.database.sessions() as session:
        report = await reports.period_summary(session, start=from_, end=to)
    vary = {"Vary": "Accept"}
    if media_type == "text/csv":
        return Response(reports.as_csv(report), media_type="text/csv", headers=vary)
    if media_type == "text/html":
        return HTMLResponse(render_summary_page(report), headers=vary)
    response.headers.update(vary)
    return report


@router.get("/stats", response_model=StatsOut, tags=["operations"], summary="Customers, purchases and events applied")
async def get_stats(ctx: ContextDep, _: Reader):
    async with ctx.database.sessions() as session:
        return await lookups.stats(session, consumer_lag=_consumer_lag(ctx))


def _consumer_lag(ctx: ScoringContext) -> int | None:
    samples = [sample.value for metric in ctx.metrics.consumer_lag.collect() for sample in metric.samples
               if sample.labels.get("consumer") == ctx.service]
    return int(sum(samples)) if samples else None
