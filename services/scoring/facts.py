"""A customer's facts as the events tell them, stored so that any arrival order gives the same state.

Purchases and refunds are lines keyed by their own ids; survey answers and complaints keep the
latest by business time; a merge re-points the duplicate's facts to the survivor and leaves the
duplicate pointing there, so that its late events land on the survivor too.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.bulk import any_of, execute_many, insert_new_rows, upsert_rows
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
    await insert_new_rows(session, table, [values])


async def survivor_of(session: AsyncSession, customer_id: str) -> str:
    """The customer the facts of `customer_id` belong to: itself, or whom it was merged into."""
    return (await survivors_of(session, [customer_id]))[customer_id]


async def survivors_of(session: AsyncSession, customer_ids) -> dict[str, str]:
    """Each customer's survivor, one query per hop along the merges (rarely more than one)."""
    survivor = {customer_id: customer_id for customer_id in customer_ids}
    asked = sorted(set(survivor))
    for _ in range(MAX_MERGE_HOPS):
        moved: dict[str, str] = {}
        for asked_ones in any_of(session, customers.c.customer_id, asked):
            moved.update((await session.execute(sa.select(customers.c.customer_id, customers.c.merged_into).where(
                asked_ones, customers.c.merged_into.is_not(None)))).all())
        if not moved:
            break
        survivor = {customer_id: moved.get(now, now) for customer_id, now in survivor.items()}
        asked = sorted(set(moved.values()))
    return survivor


async def know_customer(session: AsyncSession, customer_id: str) -> None:
    await insert_new(session, customers, {"customer_id": customer_id})


async def know_created(session: AsyncSession, created: dict[str, datetime]) -> None:
    """know_customer of many: a customer known already (an event about it came first) gets its
    creation time where it has none."""
    if not created:
        return
    ordered = sorted(created.items())
    await insert_new_rows(session, customers, [{"customer_id": customer_id, "created_at": at} for customer_id, at in ordered])
    statement = (sa.update(customers).where(customers.c.customer_id == sa.bindparam("known_id"), customers.c.created_at.is_(None))
                 .values(created_at=sa.bindparam("known_at")))
    await execute_many(session, statement, [{"known_id": customer_id, "known_at": at} for customer_id, at in ordered])


async def know_customers(session: AsyncSession, customer_ids) -> None:
    await insert_new_rows(session, customers, [{"customer_id": customer_id} for customer_id in sorted(set(customer_ids))])


def purchase_line(customer_id: str, *, purchase_id: str, amount: str, occurred_at: datetime) -> dict:
    return {"kind": "purchase", "line_id": purchase_id, "customer_id": customer_id, "purchase_id": purchase_id,
            "day": purchase_day(occurred_at), "units": to_units(amount), "occurred_at": occurred_at}


def refund_line(customer_id: str, *, refund_id: str, purchase_id: str, amount: str, purchase_occurred_at: datetime,
                occurred_at: datetime) -> dict:
    """A refund reduces the amount of its purchase's day (scoring.md §1)."""
    return {"kind": "refund", "line_id": refund_id, "customer_id": customer_id, "purchase_id": purchase_id,
            "day": purchase_day(purchase_occurred_at), "units": -to_units(amount), "occurred_at": occurred_at}


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


@dataclass(frozen=True)
class ComplaintChange:
    complaint_id: str
    status: str
    breached: bool
    changed_at: datetime
    first_response_seconds: float | None = None  # once its SLA clock is fulfilled
    resolution_seconds: float | None = None


async def record_complaint(session: AsyncSession, customer_id: str, change: ComplaintChange) -> None:
    """The complaint's state as of its latest change; its first known change dates its opening; a
    time the SLA clocks measured is kept, the latest change's winning."""
    current = (await session.execute(sa.select(complaints).where(complaints.c.complaint_id == change.complaint_id))).first()
    resolved_at = change.changed_at if change.status in CLOSED_STATUSES else None
    times = {"first_response_seconds": change.first_response_seconds, "resolution_seconds": change.resolution_seconds}
    if current is None:
        await insert_new(session, complaints, {
            "complaint_id": change.complaint_id, "customer_id": customer_id, "status": change.status,
            "breached": change.breached, "opened_at": change.changed_at, "resolved_at": resolved_at,
            "changed_at": change.changed_at, **times,
        })
        return
    newer = change.changed_at >= current.changed_at
    values = {"opened_at": min(current.opened_at or change.changed_at, change.changed_at),
              "breached": current.breached or change.breached}
    for name, measured in times.items():
        known = getattr(current, name)
        values[name] = (measured if measured is not None else known) if newer else (known if known is not None else measured)
    if newer:
        values |= {"status": change.status, "changed_at": change.changed_at, "resolved_at": resolved_at or current.resolved_at}
    await session.execute(sa.update(complaints).where(complaints.c.complaint_id == change.complaint_id).values(**values))


@dataclass
class Contacts:
    """A customer's interactions and feedback gathered from a batch, added to the stored counts at once."""

    interactions: int = 0
    last_interaction_at: datetime | None = None
    feedback_received: int = 0
    negative_feedback: int = 0

    def interaction(self, occurred_at: datetime) -> None:
        self.interactions += 1
        self.interaction_seen(occurred_at)

    def feedback(self, *, negative: bool) -> None:
        self.feedback_received += 1
        self.negative_feedback += int(negative)

    def add(self, other: "Contacts") -> None:
        self.interactions += other.interactions
        if other.last_interaction_at is not None:
            self.interaction_seen(other.last_interaction_at)
        self.feedback_received += other.feedback_received
        self.negative_feedback += other.negative_feedback

    def interaction_seen(self, occurred_at: datetime) -> None:
        self.last_interaction_at = max(self.last_interaction_at or occurred_at, occurred_at)


async def add_contacts(session: AsyncSession, contacts: dict[str, Contacts]) -> None:
    if not contacts:
        return
    row, latest = customers.c, sa.bindparam("b_last", type_=customers.c.last_interaction_at.type)
    await session.execute(sa.update(customers).where(row.customer_id == sa.bindparam("b_customer")).values(
        interactions=row.interactions + sa.bindparam("b_interactions"),
        last_interaction_at=sa.case((row.last_interaction_at.is_(None), latest), (row.last_interaction_at < latest, latest),
                                    else_=row.last_interaction_at),
        feedback_received=row.feedback_received + sa.bindparam("b_feedback"),
        negative_feedback=row.negative_feedback + sa.bindparam("b_negative"),
    ), [{"b_customer": customer_id, "b_interactions": c.interactions, "b_last": c.last_interaction_at,
         "b_feedback": c.feedback_received, "b_negative": c.negative_feedback} for customer_id, c in sorted(contacts.items())])


async def merge(session: AsyncSession, *, survivor: str, duplicate: str) -> None:
    """Folds the duplicate's facts into the survivor's; the duplicate then points at the survivor."""
    await know_customer(session, duplicate)
    for table in (purchase_lines, survey_responses, complaints):
        await session.execute(sa.update(table).where(table.c.customer_id == duplicate).values(customer_id=survivor))
    await _merge_latest_answers(session, survivor=survivor, duplicate=duplicate)
    old = (await session.execute(sa.select(customers).where(customers.c.customer_id == duplicate))).one()
    # The latest interaction moves too, so that the result does not depend on the merge's place among them.
    await add_contacts(session, {survivor: Contacts(old.interactions, old.last_interaction_at, old.feedback_received,
                                                    old.negative_feedback)})
    row = customers.c
    await session.execute(sa.update(customers).where(row.customer_id == duplicate).values(
        merged_into=survivor, interactions=0, last_interaction_at=None, feedback_received=0, negative_feedback=0))
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
    return (await load_facts_of(session, [customer_id]))[customer_id]


async def load_facts_of(session: AsyncSession, customer_ids: list[str]) -> dict[str, CustomerFacts]:
    """Every named customer's facts, a few queries per thousand customers."""
    lines, answers, complaint_rows = defaultdict(list), defaultdict(dict), defaultdict(list)
    for owner in any_of(session, purchase_lines.c.customer_id, customer_ids):
        for customer_id, day, units in await session.execute(
                sa.select(purchase_lines.c.customer_id, purchase_lines.c.day, purchase_lines.c.units).where(owner)):
            lines[customer_id].append((day, units))
    for owner in any_of(session, survey_answers.c.customer_id, customer_ids):
        for row in await session.execute(sa.select(survey_answers).where(owner)):
            answers[row.customer_id][row.kind] = Answer(row.score, row.answered_at)
    for owner in any_of(session, complaints.c.customer_id, customer_ids):
        for row in await session.execute(sa.select(complaints).where(owner)):
            complaint_rows[row.customer_id].append(Complaint(row.status, row.breached, row.opened_at))
    return {customer_id: CustomerFacts(purchase_lines=lines[customer_id], answers=answers[customer_id],
                                       complaints=complaint_rows[customer_id]) for customer_id in customer_ids}
