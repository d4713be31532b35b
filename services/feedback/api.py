"""Routes of the feedback service: validate, call the service functions, shape the answer."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from services.common.auth import Principal, require
from services.common.database import Database
from services.common.errors import Problem
from services.common.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from services.feedback import complaint_handling as handling
from services.feedback import sla_config
from services.feedback.complaint_handling import Change, ComplaintFilter
from services.feedback.context import FeedbackContext
from services.feedback.sla.calendars import builtin_calendars
from services.feedback.schemas import (
    CalendarIn, CalendarOut, Code, ComplaintCreate, ComplaintOut, ComplaintUpdate, HistoryEntry, PolicySetIn,
    PolicySetOut, ReplyRequest, ResolveRequest, SlaMetricOut, TransitionRequest, WaitRequest,
)


def _database(request: Request) -> Database:
    return request.app.state.database


def _context(request: Request) -> FeedbackContext:
    return request.app.state.feedback


DatabaseDep = Annotated[Database, Depends(_database)]
ContextDep = Annotated[FeedbackContext, Depends(_context)]
Reader = Annotated[Principal, Depends(require("complaints:read"))]
Handler = Annotated[Principal, Depends(require("complaints:write"))]
SlaManager = Annotated[Principal, Depends(require("sla:manage"))]
IfMatch = Annotated[str | None, Header(max_length=100, description="The ETag of the version this change is based on.")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Cursor = Annotated[str | None, Query(max_length=500)]

router = APIRouter(prefix="/v1")


async def _complaint_out(session, ctx: FeedbackContext, row, principal: Principal, *, with_history: bool) -> ComplaintOut:
    sla_ctx = await sla_config.sla_context(session, ctx)
    sla = handling.core.ComplaintSla.from_dict(row.sla)
    metrics = [SlaMetricOut(**m) for m in handling.sla_now(row, sla_ctx, ctx.now())]
    with_text = principal.may("text:read")
    entries = None
    if with_history:
        entries = [HistoryEntry(at=h.at, actor=h.actor, action=h.action, from_status=h.from_status, to_status=h.to_status,
                                changes=h.changes, reason=h.reason_text if with_text else None)
                   for h in await handling.history(session, row.id)]
    return ComplaintOut(
        id=row.id, customer_id=row.customer_id, status=row.status, priority=row.priority, category=row.category, channel=row.channel,
        assignee=row.assignee, description=row.description_text if with_text else None, linked_to=row.linked_to,
        tier=sla.attributes.tier, policy_id=sla.policy_id, policy_version=sla.policy_version, reopen_count=sla.reopen_count,
        breached=any(m.breached for m in metrics), version=row.version, allowed_transitions=handling.api_actions(row.status),
        sla=metrics, history=entries, created_at=row.created_at, updated_at=row.updated_at,
    )


async def _answer(db: Database, ctx: FeedbackContext, complaint_id: str, principal: Principal, response: Response) -> ComplaintOut:
    async with db.sessions() as session:
        row = await handling.get_complaint(session, complaint_id)
        response.headers["ETag"] = handling.etag(row)
        return await _complaint_out(session, ctx, row, principal, with_history=True)


# --- complaints --------------------------------------------------------------------------------

@router.post("/complaints", status_code=201, response_model=ComplaintOut, tags=["complaints"], summary="Open a complaint")
async def open_complaint(body: ComplaintCreate, response: Response, db: DatabaseDep, ctx: ContextDep, principal: Handler):
    async with db.transaction() as session:
        row = await handling.open_complaint(session, ctx, **body.model_dump(), actor=principal.key_id)
    return await _answer(db, ctx, row.id, principal, response)


@router.get("/complaints", response_model=Page[ComplaintOut], tags=["complaints"], summary="List complaints, oldest first")
async def list_complaints(
    db: DatabaseDep, ctx: ContextDep, principal: Reader, status: Code | None = None, priority: Code | None = None,
    breached: bool | None = None, assignee: Code | None = None, customer_id: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Cursor = None, limit: Limit = DEFAULT_PAGE_SIZE,
):
    filters = ComplaintFilter(status, priority, breached, assignee, customer_id)
    async with db.sessions() as session:
        rows, next_cursor = await handling.list_complaints(session, filters, ctx.now(), cursor=cursor, limit=limit)
        items = [await _complaint_out(session, ctx, row, principal, with_history=False) for row in rows]
    return Page(items=items, next_cursor=next_cursor)


@router.get("/complaints/{complaint_id}", response_model=ComplaintOut, tags=["complaints"],
            summary="A complaint with its SLA state per metric and its history")
async def get_complaint(complaint_id: str, response: Response, db: DatabaseDep, ctx: ContextDep, principal: Reader):
    return await _answer(db, ctx, complaint_id, principal, response)


@router.patch("/complaints/{complaint_id}", response_model=ComplaintOut, tags=["complaints"],
              summary="Change priority, category or assignee (If-Match: the ETag read)")
async def update_complaint(complaint_id: str, body: ComplaintUpdate, response: Response, db: DatabaseDep, ctx: ContextDep,
                           principal: Handler, if_match: IfMatch = None):
    updates = body.model_dump(exclude_unset=True, exclude={"reason"})
    if any(value is None for key, value in updates.items() if key == "priority"):
        raise Problem(422, "Validation failed", "priority cannot be removed; give another", field="priority")
    async with db.transaction() as session:
        row = await handling.get_complaint(session, complaint_id, for_update=True)
        handling.check_version(row, if_match)
        await handling.change_attributes(session, ctx, row, updates, Change(principal.key_id, "update", body.reason, updates))
    return await _answer(db, ctx, complaint_id, principal, response)


async def _transition(db: Database, ctx: FeedbackContext, complaint_id: str, action: str, principal: Principal,
                      body: TransitionRequest, if_match: str | None, response: Response, **options) -> ComplaintOut:
    async with db.transaction() as session:
        row = await handling.get_complaint(session, complaint_id, for_update=True)
        handling.check_version(row, if_match)
        change = Change(principal.key_id, action, body.reason, {"without_survey": True} if options.get("without_survey") else None)
        await handling.transition(session, ctx, row, action, change, **options)
    return await _answer(db, ctx, complaint_id, principal, response)


PLAIN_TRANSITIONS = {
    "acknowledge": "Acknowledge an open complaint",
    "start": "Start work on an acknowledged complaint",
    "resume": "Resume work after waiting (resolution runs again)",
    "reopen": "Reopen a resolved complaint (resolution resumes; a pending CSAT invitation is cancelled)",
    "close": "Close a resolved complaint (final)",
}


def _plain_transition(action: str, summary: str) -> None:
    async def route(complaint_id: str, response: Response, db: DatabaseDep, ctx: ContextDep, principal: Handler,
                    body: TransitionRequest | None = None, if_match: IfMatch = None):
        return await _transition(db, ctx, complaint_id, action, principal, body or TransitionRequest(), if_match, response)

    router.post(f"/complaints/{{complaint_id}}:{action}", response_model=ComplaintOut, tags=["complaint transitions"],
                summary=summary, name=action)(route)


for _action, _summary in PLAIN_TRANSITIONS.items():
    _plain_transition(_action, _summary)


@router.post("/complaints/{complaint_id}:wait", response_model=ComplaintOut, tags=["complaint transitions"],
             summary="Wait on the customer or on a third party (resolution pauses as the policy says)")
async def wait(complaint_id: str, body: WaitRequest, response: Response, db: DatabaseDep, ctx: ContextDep, principal: Handler,
               if_match: IfMatch = None):
    return await _transition(db, ctx, complaint_id, f"wait_on_{body.on}", principal, body, if_match, response)


@router.post("/complaints/{complaint_id}:resolve", response_model=ComplaintOut, tags=["complaint transitions"],
             summary="Resolve; a CSAT invitation follows after a delay unless without_survey")
async def resolve(complaint_id: str, response: Response, db: DatabaseDep, ctx: ContextDep, principal: Handler,
                  body: ResolveRequest | None = None, if_match: IfMatch = None):
    body = body or ResolveRequest()
    return await _transition(db, ctx, complaint_id, "resolve", principal, body, if_match, response, without_survey=body.without_survey)


@router.post("/complaints/{complaint_id}:reply", response_model=ComplaintOut, tags=["complaint transitions"],
             summary="An agent's answer to the customer, or (from: customer) a customer's message")
async def reply(complaint_id: str, body: ReplyRequest, response: Response, db: DatabaseDep, ctx: ContextDep, principal: Handler,
                if_match: IfMatch = None):
    from_customer = body.from_ == "customer"
    change = Change(principal.key_id, "customer_message" if from_customer else "agent_reply", body.message,
                    None if from_customer else {"public": body.public, "automated": body.automated})
    async with db.transaction() as session:
        row = await handling.get_complaint(session, complaint_id, for_update=True)
        handling.check_version(row, if_match)
        await handling.reply(session, ctx, row, from_customer=from_customer, public=body.public, automated=body.automated, change=change)
    return await _answer(db, ctx, complaint_id, principal, response)


# --- calendars and policies --------------------------------------------------------------------

CalendarName = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]


@router.get("/calendars/{name}", response_model=CalendarOut, tags=["service levels"], summary="A calendar's current version")
async def get_calendar(name: CalendarName, db: DatabaseDep, _: Reader):
    async with db.sessions() as session:
        definition = await sla_config.stored_calendar(session, name)
    if definition is None:
        raise Problem(404, "Not found", f"calendar '{name}' does not exist", field="name")
    return CalendarOut(**definition)


@router.put("/calendars/{name}", response_model=CalendarOut, tags=["service levels"],
            summary="Store a new version; open complaints are recomputed with consumed time kept")
async def put_calendar(name: CalendarName, body: CalendarIn, db: DatabaseDep, ctx: ContextDep, principal: SlaManager):
    if name in builtin_calendars():
        raise Problem(422, "Validation failed", f"calendar '{name}' is built in and cannot change; give another name", field="name")
    async with db.transaction() as session:
        now = ctx.now()
        old = await sla_config.sla_context(session, ctx)
        calendar = sla_config.parse_calendar(name, await sla_config.next_calendar_version(session, name), body.model_dump(exclude_none=True))
        found = {**old.calendars, name: calendar}
        sla_config.check_clocks_can_end(old.policies, found, now, calendar)
        await sla_config.store_calendar(session, calendar, actor=principal.key_id, now=now)
        new = await sla_config.sla_context(session, ctx)
        moved = 0
        if name in old.calendars:
            change = Change(principal.key_id, "recompute", changes={"calendar": name, "calendar_version": calendar.version})
            moved = await handling.recompute_open(session, ctx, old, new, calendar=name, change=change)
    return CalendarOut(**calendar.to_dict(), recomputed_complaints=moved)


@router.get("/sla-policies", response_model=PolicySetOut, tags=["service levels"], summary="The policy set in force")
async def get_policies(db: DatabaseDep, _: Reader):
    async with db.sessions() as session:
        return PolicySetOut(**await sla_config.stored_policies(session))


@router.put("/sla-policies", response_model=PolicySetOut, tags=["service levels"],
            summary="Store a new policy set version; open complaints are re-matched with consumed time kept")
async def put_policies(body: PolicySetIn, db: DatabaseDep, ctx: ContextDep, principal: SlaManager):
    async with db.transaction() as session:
        now = ctx.now()
        old = await sla_config.sla_context(session, ctx)
        policies = sla_config.parse_policies(await sla_config.next_policy_version(session), body.model_dump())
        sla_config.check_clocks_can_end(policies, old.calendars, now)
        await sla_config.store_policies(session, policies, actor=principal.key_id, now=now)
        new = await sla_config.sla_context(session, ctx)
        change = Change(principal.key_id, "recompute", changes={"policy_version": policies.version})
        moved = await handling.recompute_open(session, ctx, old, new, calendar=None, change=change)
    return PolicySetOut(**policies.to_dict(), recomputed_complaints=moved)
