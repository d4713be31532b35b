"""Surveys in the database: invitations with single-use links, answers (with their history), results."""

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.catalog import SurveyResponded
from services.common.errors import Problem
from services.common.ids import new_id
from services.feedback import points_ledger
from services.feedback.context import FeedbackContext, token_digest
from services.feedback.models import invitations, responses, surveys
from services.feedback.records import one_or_404
from services.feedback.surveys import metrics
from services.feedback.surveys.invitations import may_answer, may_invite

COMPLAINT_CSAT_SURVEY = "complaint-csat"  # the CSAT survey that follows resolved complaints


async def create_survey(session: AsyncSession, ctx: FeedbackContext, *, kind: str, name: str, follow_up_question: str | None,
                        questions: list[dict], points: int, survey_id: str | None = None):
    survey_id = survey_id or new_id()
    await session.execute(sa.insert(surveys).values(
        id=survey_id, kind=kind, name=name, follow_up_question=follow_up_question, questions=questions, points=points, created_at=ctx.now(),
    ))
    return await get_survey(session, survey_id)


async def get_survey(session: AsyncSession, survey_id: str):
    return await one_or_404(session, surveys, survey_id, what="survey", field="survey_id")


async def complaint_csat_survey(session: AsyncSession, ctx: FeedbackContext):
    row = (await session.execute(sa.select(surveys).where(surveys.c.id == COMPLAINT_CSAT_SURVEY))).first()
    if row is not None:
        return row
    return await create_survey(session, ctx, kind="csat", name="How did we handle your complaint?", follow_up_question="What could we do better?",
                               questions=[], points=0, survey_id=COMPLAINT_CSAT_SURVEY)


# --- invitations -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Throttled:
    customer_id: str
    reason: str
    next_allowed_at: datetime


async def invite(session: AsyncSession, ctx: FeedbackContext, survey, *, customer_id: str, channel: str,
                 complaint_id: str | None = None):
    """An invitation with its link, or Throttled: the per-customer throttle counts from the last send."""
    now = ctx.now()
    last_sent = await session.scalar(sa.select(sa.func.max(invitations.c.sent_at)).where(invitations.c.customer_id == customer_id))
    decision = may_invite(last_sent, now, throttle_days=ctx.settings.survey_throttle_days)
    if not decision.allowed:
        return Throttled(customer_id, decision.reason, last_sent + timedelta(days=ctx.settings.survey_throttle_days))
    invitation_id = new_id()
    await session.execute(sa.insert(invitations).values(
        id=invitation_id, survey_id=survey.id, customer_id=customer_id, complaint_id=complaint_id, channel=channel,
        token_sha256=token_digest(ctx.response_token(invitation_id)), sent_at=now,
        expires_at=now + timedelta(days=ctx.settings.survey_link_expiry_days), token_used_at=None, points_awarded=False,
    ))
    return await get_invitation(session, invitation_id)


async def get_invitation(session: AsyncSession, invitation_id: str, *, survey_id: str | None = None):
    equal = {"survey_id": survey_id} if survey_id is not None else {}
    return await one_or_404(session, invitations, invitation_id, what="invitation", field="invitation_id", **equal)


async def invitation_by_token(session: AsyncSession, ctx: FeedbackContext, token: str, *, for_answer: bool):
    row = (await session.execute(sa.select(invitations).where(invitations.c.token_sha256 == token_digest(token)))).first()
    if row is None:
        raise Problem(404, "Not found", "this survey link is not known", field="token")
    decision = may_answer(row.sent_at, ctx.now(), expiry_days=ctx.settings.survey_link_expiry_days)
    if not decision.allowed:
        raise Problem(410, "Survey link expired", f"this survey link has expired: {decision.reason}", field="token", expires_at=row.expires_at.isoformat())
    if for_answer and row.token_used_at is not None:
        raise Problem(409, "Survey link already used", f"this link was used at {row.token_used_at.isoformat()}; each link answers once",
                      field="token")
    return row


# --- answers -----------------------------------------------------------------------------------

def check_answer(survey, score: int, ratings: dict[str, int]) -> None:
    low, high = metrics.SCALES[survey.kind]
    if not low <= score <= high:
        raise Problem(422, "Validation failed", f"a {survey.kind} score is {low} to {high}, not {score}", field="score")
    questions = {q["key"]: q for q in survey.questions}
    for key, value in ratings.items():
        question = questions.get(key)
        if question is None:
            raise Problem(422, "Validation failed", f"the survey has no question {key!r}", field=f"ratings.{key}")
        if not question["scale_min"] <= value <= question["scale_max"]:
            raise Problem(422, "Validation failed", f"{key} is rated {question['scale_min']} to {question['scale_max']}", field=f"ratings.{key}")


async def record_answer(session: AsyncSession, ctx: FeedbackContext, survey, invitation, *, score: int, ratings: dict[str, int],
                        comment: str | None, channel: str, recorded_by: str | None):
    """A new answer becomes the latest of its invitation; earlier ones stay as history."""
    check_answer(survey, score, ratings)
    now = ctx.now()
    low, high = metrics.SCALES[survey.kind]
    await session.execute(sa.update(responses).where(responses.c.invitation_id == invitation.id).values(latest=False))
    response_id = new_id()
    await session.execute(sa.insert(responses).values(
        id=response_id, invitation_id=invitation.id, survey_id=survey.id, customer_id=invitation.customer_id, kind=survey.kind,
        score=score, scale_min=low, scale_max=high, ratings=ratings, comment=comment, channel=channel, recorded_by=recorded_by,
        latest=True, answered_at=now,
    ))
    await ctx.events.add(session, SurveyResponded(
        customer_id=invitation.customer_id, response_id=response_id, survey_id=survey.id, kind=survey.kind, score=score,
        scale_min=low, scale_max=high, complaint_id=invitation.complaint_id, answered_at=now,
    ))
    if survey.points > 0 and not invitation.points_awarded:
        await session.execute(sa.update(invitations).where(invitations.c.id == invitation.id).values(points_awarded=True))
        await points_ledger.award(session, ctx, invitation.customer_id, survey.points, invitation_id=invitation.id)
    return (await session.execute(sa.select(responses).where(responses.c.id == response_id))).first()


async def use_token(session: AsyncSession, invitation, now: datetime) -> None:
    used = await session.execute(sa.update(invitations).where(invitations.c.id == invitation.id, invitations.c.token_used_at.is_(None))
                                 .values(token_used_at=now))
    if used.rowcount != 1:  # a second answer with the same link raced this one
        raise Problem(409, "Survey link already used", "this link was used already; each link answers once", field="token")


async def agent_invitation(session: AsyncSession, ctx: FeedbackContext, survey, *, customer_id: str, channel: str, complaint_id: str | None):
    """An answer taken by an agent (a phone follow-up) without a link: its invitation is the call."""
    now = ctx.now()
    invitation_id = new_id()
    await session.execute(sa.insert(invitations).values(
        id=invitation_id, survey_id=survey.id, customer_id=customer_id, complaint_id=complaint_id, channel=channel, token_sha256=None,
        sent_at=now, expires_at=now, token_used_at=now, points_awarded=False,
    ))
    return await get_invitation(session, invitation_id)


async def answer_history(session: AsyncSession, invitation_id: str) -> list:
    return list((await session.execute(
        sa.select(responses).where(responses.c.invitation_id == invitation_id).order_by(responses.c.answered_at, responses.c.id)
    )).all())


# --- results -----------------------------------------------------------------------------------

async def results(session: AsyncSession, ctx: FeedbackContext, survey, start: datetime, end: datetime, bucket: str) -> dict:
    rows = (await session.execute(sa.select(responses.c.invitation_id, responses.c.score, responses.c.answered_at).where(
        responses.c.survey_id == survey.id, responses.c.latest, responses.c.answered_at >= start, responses.c.answered_at < end,
    ))).all()
    answers = [metrics.SurveyResponse(r.invitation_id, survey.kind, r.score, r.answered_at) for r in rows]
    sent_in_period = sa.and_(invitations.c.survey_id == survey.id, invitations.c.sent_at >= start, invitations.c.sent_at < end)
    sent = await session.scalar(sa.select(sa.func.count()).select_from(invitations).where(sent_in_period))
    answered = await session.scalar(sa.select(sa.func.count(sa.distinct(responses.c.invitation_id))).select_from(
        invitations.join(responses, responses.c.invitation_id == invitations.c.id)).where(sent_in_period))
    low, high = metrics.SCALES[survey.kind]
    scores = [a.score for a in answers]
    trend = metrics.trend(answers, scale=survey.kind, period="iso_week" if bucket == "week" else "month",
                          time_zone=ctx.settings.survey_time_zone, min_count=ctx.settings.survey_trend_min_count)
    return {
        "survey_id": survey.id, "kind": survey.kind, "from": start, "to": end, "scale_min": low, "scale_max": high,
        "responses": len(scores), **summary(survey.kind, scores),
        "counts": {str(value): scores.count(value) for value in range(low, high + 1)},
        "invitations_sent": sent, "invitations_answered": answered, "response_rate": metrics.response_rate(sent, answered),
        "trend": [{"label": b.label, "starts_on": b.starts_on, "responses": b.count, "hidden": b.hidden,
                   **(summary(survey.kind, None, b.value) if not b.hidden else {"status": "hidden: too few answers", "score": None, "margin_of_error": None})}
                  for b in trend],
    }


def summary(kind: str, scores: list[int] | None, value=None) -> dict:
    """The score with its margin of error; "no data" said as such, never a 0."""
    value = value if scores is None else metrics.METRICS[kind](scores)
    if value is None:
        return {"status": "no data", "score": None, "margin_of_error": None}
    score = value.mean if kind == "ces" else value.score
    details = {k: v for k, v in vars(value).items() if k not in ("score", "mean", "margin_of_error", "count")}
    return {"status": "ok", "score": score, "margin_of_error": value.margin_of_error, "details": details}
