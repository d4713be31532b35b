"""Routes of the feedback service: validate, call the service functions, shape the answer."""

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Response

from services.common.auth import Principal, require
from services.common.database import Database
from services.common.deps import DatabaseDep, service_context
from services.common.errors import Problem
from services.common.pagination import DEFAULT_PAGE_SIZE, Cursor, Limit, Page
from services.feedback import complaint_handling as handling
from services.feedback import complaint_recompute, feedback_items, points_ledger, sla_config, survey_handling
from services.feedback.complaint_handling import Change, ComplaintFilter
from services.feedback.complaints.sla_state import ComplaintSla
from services.feedback.context import FeedbackContext
from services.feedback.sla.calendars import builtin_calendars
from services.feedback.schemas import (
    AnswerIn, CalendarIn, CalendarOut, Code, ComplaintCreate, ComplaintOut, ComplaintUpdate, FeedbackCreate, FeedbackOut,
    HistoryEntry, InvitationBatchOut, InvitationCreate, InvitationDetail, InvitationOut, LedgerEntryOut, PointsOut,
    PolicySetIn, PolicySetOut, RecordedAnswerIn, RedeemIn, ReplyRequest, ResolveRequest, ResponseOut, SlaMetricOut,
    SurveyCreate, SurveyForm, SurveyOut, SurveyResults, ThrottledOut, TransitionRequest, WaitRequest,
)
from services.feedback.surveys.metrics import SCALES




ContextDep = Annotated[FeedbackContext, Depends(service_context)]
Reader = Annotated[Principal, Depends(require("complaints:read"))]
Handler = Annotated[Principal, Depends(require("complaints:write"))]
SlaManager = Annotated[Principal, Depends(require("sla:manage"))]
IfMatch = Annotated[str | None, Header(max_length=100, description="The ETag of the version this change is based on.")]

router = APIRouter(prefix="/v1")


async def _complaint_out(session, ctx: FeedbackContext, row, principal: Principal, *, with_history: bool) -> ComplaintOut:
    sla_ctx = await sla_config.sla_context(session, ctx)
    sla = ComplaintSla.from_dict(row.sla)
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


async def _answer(session, ctx: FeedbackContext, row, principal: Principal, response: Response) -> ComplaintOut:
    """The complaint as it is now, read in the transaction that changed it, with its ETag."""
    response.headers["ETag"] = handling.etag(row)
    return await _complaint_out(session, ctx, row, principal, with_history=True)


# --- complaints --------------------------------------------------------------------------------

@router.post("/complaints", status_code=201, response_model=ComplaintOut, tags=["complaints"], summary="Open a complaint")
async def open_complaint(body: ComplaintCreate, response: Response, db: DatabaseDep, ctx: ContextDep, principal: Handler):
    async with db.transaction() as session:
        row = await handling.open_complaint(session, ctx, **body.model_dump(), actor=principal.key_id)
        return await _answer(session, ctx, row, principal, response)


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
    async with db.sessions() as session:
        return await _answer(session, ctx, await handling.get_complaint(session, complaint_id), principal, response)


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
        row = await handling.change_attributes(session, ctx, row, updates, Change(principal.key_id, "update", body.reason, updates))
        return await _answer(session, ctx, row, principal, response)


async def _transition(db: Database, ctx: FeedbackContext, complaint_id: str, action: str, principal: Principal,
                      body: TransitionRequest, if_match: str | None, response: Response, **options) -> ComplaintOut:
    async with db.transaction() as session:
        row = await handling.get_complaint(session, complaint_id, for_update=True)
        handling.check_version(row, if_match)
        change = Change(principal.key_id, action, body.reason, {"without_survey": True} if options.get("without_survey") else None)
        row = await handling.transition(session, ctx, row, action, change, **options)
        return await _answer(session, ctx, row, principal, response)


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
        row = await handling.reply(session, ctx, row, from_customer=from_customer, public=body.public, automated=body.automated, change=change)
        return await _answer(session, ctx, row, principal, response)


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
            moved = await complaint_recompute.recompute_open(session, ctx, old, new, calendar=name, change=change)
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
        moved = await complaint_recompute.recompute_open(session, ctx, old, new, calendar=None, change=change)
    return PolicySetOut(**policies.to_dict(), recomputed_complaints=moved)


# --- surveys -----------------------------------------------------------------------------------

SurveyManager = Annotated[Principal, Depends(require("surveys:manage"))]
SurveyReader = Annotated[Principal, Depends(require("surveys:read"))]
Sender = Annotated[Principal, Depends(require("surveys:send"))]
AnswerRecorder = Annotated[Principal, Depends(require("surveys:answer"))]
Token = Annotated[str, Path(min_length=1, max_length=200)]


def _questions(survey) -> dict:
    low, high = SCALES[survey.kind]
    return dict(kind=survey.kind, name=survey.name, scale_min=low, scale_max=high, follow_up_question=survey.follow_up_question,
                questions=survey.questions)


def _survey_out(row) -> SurveyOut:
    return SurveyOut(id=row.id, points=row.points, created_at=row.created_at, **_questions(row))


def _invitation_out(ctx: FeedbackContext, row, *, with_token: bool) -> InvitationOut:
    token = ctx.response_token(row.id) if with_token and row.token_sha256 is not None else None
    return InvitationOut(id=row.id, survey_id=row.survey_id, customer_id=row.customer_id, complaint_id=row.complaint_id, channel=row.channel,
                         sent_at=row.sent_at, expires_at=row.expires_at, token=token, answered=row.token_used_at is not None)


def _response_out(row, principal: Principal | None) -> ResponseOut:
    comment = row.comment if principal is None or principal.may("text:read") else None
    return ResponseOut(id=row.id, invitation_id=row.invitation_id, survey_id=row.survey_id, customer_id=row.customer_id, kind=row.kind,
                       score=row.score, scale_min=row.scale_min, scale_max=row.scale_max, ratings=row.ratings, comment=comment,
                       channel=row.channel, latest=row.latest, answered_at=row.answered_at)


@router.post("/surveys", status_code=201, response_model=SurveyOut, tags=["surveys"], summary="Create an NPS, CSAT or CES survey")
async def create_survey(body: SurveyCreate, db: DatabaseDep, ctx: ContextDep, _: SurveyManager):
    async with db.transaction() as session:
        row = await survey_handling.create_survey(session, ctx, kind=body.kind, name=body.name, follow_up_question=body.follow_up_question,
                                                  questions=[q.model_dump() for q in body.questions], points=body.points)
    return _survey_out(row)


@router.get("/surveys/{survey_id}", response_model=SurveyOut, tags=["surveys"], summary="A survey")
async def get_survey(survey_id: str, db: DatabaseDep, _: SurveyReader):
    async with db.sessions() as session:
        return _survey_out(await survey_handling.get_survey(session, survey_id))


@router.post("/surveys/{survey_id}/invitations", status_code=201, response_model=InvitationOut | InvitationBatchOut, tags=["surveys"],
             summary="Invite one customer (409 when throttled) or a batch (throttled ones listed, not sent)")
async def invite(survey_id: str, body: InvitationCreate, response: Response, db: DatabaseDep, ctx: ContextDep, _: Sender):
    if (body.customer_id is None) == (body.customer_ids is None):
        raise Problem(422, "Validation failed", "give either customer_id or customer_ids", field="customer_id")
    if body.customer_ids is not None and len(body.customer_ids) > ctx.settings.max_invitations_per_request:
        raise Problem(422, "Validation failed", f"at most {ctx.settings.max_invitations_per_request} customers per request", field="customer_ids")
    async with db.transaction() as session:
        survey = await survey_handling.get_survey(session, survey_id)
        outcomes = [await survey_handling.invite(session, ctx, survey, customer_id=customer, channel=body.channel, complaint_id=body.complaint_id)
                    for customer in body.customer_ids or [body.customer_id]]
    sent = [_invitation_out(ctx, o, with_token=True) for o in outcomes if not isinstance(o, survey_handling.Throttled)]
    throttled = [ThrottledOut(**vars(o)) for o in outcomes if isinstance(o, survey_handling.Throttled)]
    if body.customer_id is None:
        response.status_code = 200
        return InvitationBatchOut(sent=sent, throttled=throttled)
    if throttled:
        raise Problem(409, "Survey throttled", f"customer '{body.customer_id}' is not invited: {throttled[0].reason}", field="customer_id",
                      next_allowed_at=throttled[0].next_allowed_at.isoformat())
    return sent[0]


@router.get("/surveys/{survey_id}/invitations/{invitation_id}", response_model=InvitationDetail, tags=["surveys"],
            summary="An invitation with its link and every answer to it (the latest counts)")
async def get_invitation(survey_id: str, invitation_id: str, db: DatabaseDep, ctx: ContextDep, principal: SurveyReader):
    async with db.sessions() as session:
        row = await survey_handling.get_invitation(session, invitation_id, survey_id=survey_id)
        answers = await survey_handling.answer_history(session, invitation_id)
    out = _invitation_out(ctx, row, with_token=principal.may("surveys:send"))
    return InvitationDetail(**out.model_dump(), responses=[_response_out(a, principal) for a in answers])


@router.post("/surveys/{survey_id}/responses", status_code=201, response_model=ResponseOut, tags=["surveys"],
             summary="An answer taken by an agent (e.g. a phone follow-up), with its channel")
async def record_answer(survey_id: str, body: RecordedAnswerIn, db: DatabaseDep, ctx: ContextDep, principal: AnswerRecorder):
    async with db.transaction() as session:
        survey = await survey_handling.get_survey(session, survey_id)
        if body.invitation_id is not None:
            invitation = await survey_handling.get_invitation(session, body.invitation_id, survey_id=survey_id)
            if invitation.customer_id != body.customer_id:
                raise Problem(422, "Validation failed", "the invitation belongs to another customer", field="invitation_id")
        else:
            invitation = await survey_handling.agent_invitation(session, ctx, survey, customer_id=body.customer_id, channel=body.channel,
                                                                complaint_id=body.complaint_id)
        row = await survey_handling.record_answer(session, ctx, survey, invitation, score=body.score, ratings=body.ratings,
                                                  comment=body.comment, channel=body.channel, recorded_by=principal.key_id)
    return _response_out(row, principal)


@router.get("/surveys/{survey_id}/results", response_model=SurveyResults, response_model_by_alias=True, tags=["surveys"],
            summary="Score with margin of error, counts by answer, response rate and trend; 'no data' when nobody answered")
async def survey_results(survey_id: str, db: DatabaseDep, ctx: ContextDep, _: SurveyReader,
                         from_: Annotated[datetime | None, Query(alias="from")] = None, to: datetime | None = None,
                         bucket: Annotated[str, Query(pattern="^(week|month)$")] = "week"):
    for name, moment in (("from", from_), ("to", to)):
        if moment is not None and moment.tzinfo is None:
            raise Problem(422, "Validation failed", "must include a time zone offset", field=name)
    end = to or ctx.now() + timedelta(microseconds=1)  # up to and including now
    start = from_ or max(end, datetime.min.replace(tzinfo=end.tzinfo) + timedelta(days=90)) - timedelta(days=90)
    if start >= end:
        raise Problem(422, "Validation failed", "must be before 'to'", field="from")
    async with db.sessions() as session:
        survey = await survey_handling.get_survey(session, survey_id)
        return await survey_handling.results(session, ctx, survey, start, end, bucket)


# --- answering by link (no account: the token is the credential) -------------------------------

@router.get("/responses/{token}", response_model=SurveyForm, tags=["answering"], summary="The survey behind a response link")
async def survey_form(token: Token, db: DatabaseDep, ctx: ContextDep):
    async with db.sessions() as session:
        invitation = await survey_handling.invitation_by_token(session, ctx, token, for_answer=False)
        survey = await survey_handling.get_survey(session, invitation.survey_id)
    return SurveyForm(survey_id=survey.id, expires_at=invitation.expires_at, answered=invitation.token_used_at is not None, **_questions(survey))


@router.post("/responses/{token}", status_code=201, response_model=ResponseOut, tags=["answering"],
             summary="Answer once by link; a used or expired link is refused")
async def answer_by_link(token: Token, body: AnswerIn, db: DatabaseDep, ctx: ContextDep):
    async with db.transaction() as session:
        invitation = await survey_handling.invitation_by_token(session, ctx, token, for_answer=True)
        survey = await survey_handling.get_survey(session, invitation.survey_id)
        survey_handling.check_answer(survey, body.score, body.ratings)
        await survey_handling.use_token(session, invitation, ctx.now())
        row = await survey_handling.record_answer(session, ctx, survey, invitation, score=body.score, ratings=body.ratings,
                                                  comment=body.comment, channel=invitation.channel, recorded_by=None)
    return _response_out(row, None)


# --- points ------------------------------------------------------------------------------------

async def _points(session, customer_id: str, principal: Principal) -> PointsOut:
    rows = await points_ledger.entries(session, customer_id)
    with_text = principal.may("text:read")
    return PointsOut(customer_id=customer_id, balance=points_ledger.balance(rows), entries=[
        LedgerEntryOut(kind=r.kind, points=r.points, reason=r.reason, note=r.note_text if with_text else None, at=r.at, expires_at=r.expires_at)
        for r in rows])


@router.get("/customers/{customer_id}/points", response_model=PointsOut, tags=["points"], summary="A customer's points balance and ledger")
async def get_points(customer_id: Annotated[str, Path(max_length=100)], db: DatabaseDep, ctx: ContextDep,
                     principal: Annotated[Principal, Depends(require("points:read"))]):
    async with db.transaction() as session:
        await points_ledger.expire_due(session, ctx, customer_id)
        return await _points(session, customer_id, principal)


@router.post("/customers/{customer_id}/points:redeem", response_model=PointsOut, tags=["points"],
             summary="Redeem points; never below zero (409 says the balance)")
async def redeem_points(customer_id: Annotated[str, Path(max_length=100)], body: RedeemIn, db: DatabaseDep, ctx: ContextDep,
                        principal: Annotated[Principal, Depends(require("points:write"))]):
    async with db.transaction() as session:
        await points_ledger.redeem(session, ctx, customer_id, body.points, reason=body.reason, note=body.note)
        return await _points(session, customer_id, principal)


# --- feedback from every channel ---------------------------------------------------------------

FeedbackReader = Annotated[Principal, Depends(require("feedback:read"))]
FeedbackWriter = Annotated[Principal, Depends(require("feedback:write"))]


def _feedback_out(row, principal: Principal) -> FeedbackOut:
    return FeedbackOut(id=row.id, customer_id=row.customer_id, channel=row.channel, category=row.category, rating=row.rating,
                       text=row.text if principal.may("text:read") else None, received_at=row.received_at, handled_at=row.handled_at,
                       handled_by=row.handled_by, created_at=row.created_at)


@router.post("/feedback", status_code=201, response_model=FeedbackOut, tags=["feedback"], summary="Record feedback from any channel")
async def record_feedback(body: FeedbackCreate, db: DatabaseDep, ctx: ContextDep, principal: FeedbackWriter):
    if body.received_at is not None and body.received_at.tzinfo is None:
        raise Problem(422, "Validation failed", "must include a time zone offset", field="received_at")
    async with db.transaction() as session:
        row = await feedback_items.record_feedback(session, ctx, **body.model_dump())
    return _feedback_out(row, principal)


@router.get("/feedback", response_model=Page[FeedbackOut], tags=["feedback"], summary="List feedback, oldest first")
async def list_feedback(db: DatabaseDep, principal: FeedbackReader, channel: Code | None = None, category: Code | None = None,
                        customer_id: Annotated[str | None, Query(max_length=100)] = None, handled: bool | None = None,
                        cursor: Cursor = None, limit: Limit = DEFAULT_PAGE_SIZE):
    filters = feedback_items.FeedbackFilter(channel, category, customer_id, handled)
    async with db.sessions() as session:
        rows, next_cursor = await feedback_items.list_feedback(session, filters, cursor=cursor, limit=limit)
    return Page(items=[_feedback_out(row, principal) for row in rows], next_cursor=next_cursor)


@router.post("/feedback/{feedback_id}:handle", response_model=FeedbackOut, tags=["feedback"], summary="Mark feedback handled (who and when)")
async def handle_feedback(feedback_id: str, db: DatabaseDep, ctx: ContextDep, principal: FeedbackWriter):
    async with db.transaction() as session:
        row = await feedback_items.get_feedback(session, feedback_id, for_update=True)
        row = await feedback_items.mark_handled(session, ctx, row, handled_by=principal.key_id)
    return _feedback_out(row, principal)
