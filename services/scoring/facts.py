"""A customer's facts as the events tell them, stored so that any arrival order gives the same state.

Purchases and refunds are lines keyed by their own ids; survey answers and complaints keep the
latest by business time; a merge re-points the duplicate's facts to the survivor and leaves the
duplicate pointing there, so that its late events land on the survivor too.
"""

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.models import complaints, customers, purchase_lines, survey_answers, survey_responses
from services.scoring.scores.scorecard import Answer, Complaint, CustomerFacts, day_number
from services.scoring.scores.summary import UNITS_PER_CURRENCY

MAX_MERGE_HOPS = 10
CLOSED_STATUSES = ("resolved", "closed")


def to_units(amount: str) -> int:
    """A decimal amount as whole ten-thousandths, exactly."""
    return int((Decimal(amount) * UNITS_PER_CURRENCY).to_integral_value())


def purchase_day(moment: datetime) -> int:
    return int(day_number(moment) // 1)


async def insert_new(session: AsyncSession, table: sa.Table, values: dict) -> None:
    """Inserts the row unless one with its key exists (an event seen again under another id)."""
    dialect = sqlite if session.bind.dialect.name == "sqlite" else postgresql
    await session.execute(dialect.insert(table).values(**values).on_conflict_do_nothing())


async def survivor_of(session: AsyncSession, customer_id: str) -> str:
    """The customer the facts of `customer_id` belong to: itself, or whom it was merged into."""
    for _ in range(MAX_MERGE_HOPS):
        merged_into = await session.scalar(sa.select(customers.c.merged_into).where(customers.c.customer_id == customer_id))
        if merged_into is None:
            return customer_id
        customer_id = merged_into
    return customer_id


async def know_customer(session: AsyncSession, customer_id: str, *, created_at: datetime | None = None) -> None:
    await insert_new(session, customers, {"customer_id": customer_id, "created_at": created_at})
    if created_at is not None:
        await session.execute(sa.update(customers).where(customers.c.customer_id == customer_id, customers.c.created_at.is_(None))
                              .values(created_at=created_at))


async def record_purchase(session: AsyncSession, customer_id: str, *, purchase_id: str, amount: str, occurred_at: datetime) -> None:
    await insert_new(session, purchase_lines, {
        "kind": "purchase", "line_id": purchase_id, "customer_id": customer_id, "purchase_id": purchase_id,
        "day": purchase_day(occurred_at), "units": to_units(amount), "occurred_at": occurred_at,
    })


async def record_refund(session: AsyncSession, customer_id: str, *, refund_id: str, purchase_id: str, amount: str,
                        purchase_occurred_at: datetime, occurred_at: datetime) -> None:
    """A refund reduces the amount of its purchase's day (scoring.md §1)."""
    await insert_new(session, purchase_lines, {
        "kind": "refund", "line_id": refund_id, "customer_id": customer_id, "purchase_id": purchase_id,
        "day": purchase_day(purchase_occurred_at), "units": -to_units(amount), "occurred_at": occurred_at,
    })


async def record_answer(session: AsyncSession, customer_id: str, *, kind: str, response_id: str, score: int,
                        answered_at: datetime) -> None:
    await insert_new(session, survey_responses, {
        "response_id": response_id, "customer_id": customer_id, "kind": kind, "score": score, "answered_at": answered_at,
    })
    latest = (await session.execute(sa.select(survey_answers.c.answered_at, survey_answers.c.response_id).where(
        survey_answers.c.customer_id == customer_id, survey_answers.c.kind == kind))).first()
    values = {"response_id": response_id, "score": score, "answered_at": answered_at}
    if latest is None:
        await insert_new(session, survey_answers, {"customer_id": customer_id, "kind": kind, **values})
    elif (answered_at, response_id) > (latest.answered_at, latest.response_id):
        await session.execute(sa.update(survey_answers).where(
            survey_answers.c.customer_id == customer_id, survey_answers.c.kind == kind).values(**values))


async def record_complaint(session: AsyncSession, customer_id: str, *, complaint_id: str, status: str, breached: bool,
                           changed_at: datetime) -> None:
    """The complaint's state as of its latest change; its first known change dates its opening."""
    current = (await session.execute(sa.select(complaints).where(complaints.c.complaint_id == complaint_id))).first()
    resolved_at = changed_at if status in CLOSED_STATUSES else None
    if current is None:
        await insert_new(session, complaints, {
            "complaint_id": complaint_id, "customer_id": customer_id, "status": status, "breached": breached,
            "opened_at": changed_at, "resolved_at": resolved_at, "changed_at": changed_at,
        })
        return
    values = {"opened_at": min(current.opened_at or changed_at, changed_at), "breached": current.breached or breached}
    if changed_at >= current.changed_at:
        values |= {"status": status, "changed_at": changed_at, "resolved_at": resolved_at or current.resolved_at}
    await session.execute(sa.update(complaints).where(complaints.c.complaint_id == complaint_id).values(**values))


async def record_interaction(session: AsyncSession, customer_id: str, *, occurred_at: datetime) -> None:
    row = customers.c
    await session.execute(sa.update(customers).where(row.customer_id == customer_id).values(
        interactions=row.interactions + 1,
        last_interaction_at=sa.case((row.last_interaction_at.is_(None), occurred_at),
                                    (row.last_interaction_at < occurred_at, occurred_at), else_=row.last_interaction_at),
    ))


async def record_feedback(session: AsyncSession, customer_id: str, *, negative: bool) -> None:
    row = customers.c
    await session.execute(sa.update(customers).where(row.customer_id == customer_id).values(
        feedback_received=row.feedback_received + 1, negative_feedback=row.negative_feedback + int(negative)))


async def merge(session: AsyncSession, *, survivor: str, duplicate: str) -> None:
    """Folds the duplicate's facts into the survivor's; the duplicate then points at the survivor."""
    await know_customer(session, duplicate)
    for table in (purchase_lines, survey_responses, complaints):
        await session.execute(sa.update(table).where(table.c.customer_id == duplicate).values(customer_id=survivor))
    await _merge_latest_answers(session, survivor=survivor, duplicate=duplicate)
    old = (await session.execute(sa.select(customers).where(customers.c.customer_id == duplicate))).one()
    row = customers.c
    await session.execute(sa.update(customers).where(row.customer_id == survivor).values(
        interactions=row.interactions + old.interactions, feedback_received=row.feedback_received + old.feedback_received,
        negative_feedback=row.negative_feedback + old.negative_feedback,
    ))
    await session.execute(sa.update(customers).where(row.customer_id == duplicate).values(
        merged_into=survivor, interactions=0, feedback_received=0, negative_feedback=0))
    # Customers merged into the duplicate before now follow it to the survivor.
    await session.execute(sa.update(customers).where(row.merged_into == duplicate).values(merged_into=survivor))


async def _merge_latest_answers(session: AsyncSession, *, survivor: str, duplicate: str) -> None:
    rows = (await session.execute(sa.select(survey_answers).where(survey_answers.c.customer_id == duplicate))).all()
    await session.execute(sa.delete(survey_answers).where(survey_answers.c.customer_id == duplicate))
    for answer in rows:
        await record_answer(session, survivor, kind=answer.kind, response_id=answer.response_id, score=answer.score,
                            answered_at=answer.answered_at)


async def mark_erased(session: AsyncSession, customer_id: str, *, erased_at: datetime) -> None:
    """Scoring holds no personal data: an erase keeps the numbers and notes when it happened."""
    await session.execute(sa.update(customers).where(customers.c.customer_id == customer_id).values(erased_at=erased_at))


async def load_facts(session: AsyncSession, customer_id: str) -> CustomerFacts:
    lines = (await session.execute(sa.select(purchase_lines.c.day, purchase_lines.c.units)
                                   .where(purchase_lines.c.customer_id == customer_id))).all()
    answers = (await session.execute(sa.select(survey_answers).where(survey_answers.c.customer_id == customer_id))).all()
    complaint_rows = (await session.execute(sa.select(complaints).where(complaints.c.customer_id == customer_id))).all()
    return CustomerFacts(
        purchase_lines=[(row.day, row.units) for row in lines],
        answers={row.kind: Answer(row.score, row.answered_at) for row in answers},
        complaints=[Complaint(row.status, row.breached, row.opened_at) for row in complaint_rows],
    )
