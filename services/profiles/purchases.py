"""Purchase history: record (idempotent by order_id), record in bulk, refund, list."""

import hashlib
from datetime import UTC

import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.catalog import PurchaseRecorded, PurchaseRefunded
from services.common.bulk import any_of, insert_rows, on_postgres
from services.common.errors import Problem
from services.common.ids import new_id
from services.common.outbox import add_events, insert_with_event
from services.common.pagination import keyset_page
from services.common.timeutil import utcnow
from services.profiles.batch import ItemOutcome, error_outcome, invalid_outcome, problem_outcome, raise_for
from services.profiles.context import ProfilesContext
from services.profiles.customers import resolve_active
from services.profiles.models import Customer, Purchase, Refund
from services.profiles.schemas import PurchaseCreate, RefundCreate

purchase_adapter = TypeAdapter(PurchaseCreate)


def fingerprint(customer_id: str, amount_minor: int, currency: str, data: PurchaseCreate) -> str:
    canonical = "|".join([customer_id, str(amount_minor), currency, data.occurred_at.isoformat(), data.channel or ""])
    return hashlib.sha256(canonical.encode()).hexdigest()


async def record_purchase(session: AsyncSession, ctx: ProfilesContext, data: PurchaseCreate) -> tuple[Purchase, bool]:
    """Returns the purchase and whether it is new; the same order again returns the first record.
    A new one is answered from the row just inserted, without reading it back (one round trip less)."""
    if on_postgres(session):
        row = await _record_one(session, ctx, data)
    else:
        outcomes, new_rows = await _record(session, ctx, [data], backfill=False)
        raise_for(outcomes[0])
        row = new_rows[0] if new_rows else await session.get(Purchase, outcomes[0].record_id)
    if isinstance(row, Purchase):
        return row, False
    return Purchase(**row | {"occurred_at": row["occurred_at"].astimezone(UTC)}), True


async def _record_one(session: AsyncSession, ctx: ProfilesContext, data: PurchaseCreate) -> dict | Purchase:
    """PostgreSQL, one purchase in three round trips besides BEGIN and COMMIT: the customer, then the
    purchase and its event in one statement, or, when the order is known, the known purchase."""
    customers = await _resolve_customers(session, [data])
    outcome, row = _decide(ctx, data, customers, {}, utcnow(), False)
    raise_for(outcome)
    if await insert_with_event(session, Purchase.__table__, row, unique="order_id", event=_recorded_event(ctx, row, False)):
        return row
    outcome, _ = _decide(ctx, data, customers, await _existing_orders(session, [data.order_id]), utcnow(), False)
    raise_for(outcome)
    return await session.get(Purchase, outcome.record_id)


def validate_items(items: list[dict]) -> list[PurchaseCreate | ItemOutcome]:
    validated: list[PurchaseCreate | ItemOutcome] = []
    for item in items:
        try:
            validated.append(purchase_adapter.validate_python(item))
        except ValidationError as error:
            validated.append(invalid_outcome(error))
    return validated


async def record_purchases(session: AsyncSession, ctx: ProfilesContext, items: list[PurchaseCreate | ItemOutcome], *, backfill: bool) -> list[ItemOutcome]:
    """Set-based: a few queries for the whole batch, whatever its size."""
    return (await _record(session, ctx, items, backfill=backfill))[0]


async def _record(session: AsyncSession, ctx: ProfilesContext, items: list[PurchaseCreate | ItemOutcome], *,
                  backfill: bool) -> tuple[list[ItemOutcome], list[dict]]:
    """The outcome of each item, and the rows inserted."""
    customers = await _resolve_customers(session, [item for item in items if isinstance(item, PurchaseCreate)])
    existing = await _existing_orders(session, [item.order_id for item in items if isinstance(item, PurchaseCreate)])
    outcomes: list[ItemOutcome] = []
    new_rows: list[dict] = []
    events = []
    now = utcnow()
    for item in items:
        if isinstance(item, ItemOutcome):
            outcomes.append(item)
            continue
        outcome, row = _decide(ctx, item, customers, existing, now, backfill)
        outcomes.append(outcome)
        if row is not None:
            new_rows.append(row)
            existing[row["order_id"]] = (row["id"], row["fingerprint"])
            events.append(_recorded_event(ctx, row, backfill))
    if new_rows:
        await insert_rows(session, Purchase.__table__, new_rows)
        await add_events(session, events)
    return outcomes, new_rows


def _decide(ctx: ProfilesContext, item: PurchaseCreate, customers: dict, existing: dict, now, backfill: bool) -> tuple[ItemOutcome, dict | None]:
    customer_field = "customer_id" if item.customer_id else "customer_external_id"
    resolved = customers.get((customer_field, item.customer_id or item.customer_external_id))
    if isinstance(resolved, ItemOutcome):
        return resolved, None
    try:
        currency = ctx.check_currency(item.currency, field="currency")
        amount_minor = ctx.to_minor_units(item.amount, field="amount")
    except Problem as problem:
        return problem_outcome(problem), None
    print_ = fingerprint(resolved, amount_minor, currency, item)
    if item.order_id in existing:
        purchase_id, known_print = existing[item.order_id]
        if known_print == print_:
            return ItemOutcome("unchanged", 200, record_id=purchase_id), None
        return error_outcome(409, "Order already recorded", "this order_id was recorded with different details", "order_id",
                      existing_id=purchase_id), None
    row = {
        "id": new_id(), "order_id": item.order_id, "customer_id": resolved, "amount_minor": amount_minor,
        "refunded_minor": 0, "currency": currency, "channel": item.channel, "fingerprint": print_, "backfill": backfill,
        "occurred_at": item.occurred_at, "created_at": now,
    }
    return ItemOutcome("created", 201, record_id=row["id"]), row


def _recorded_event(ctx: ProfilesContext, row: dict, backfill: bool):
    payload = PurchaseRecorded(
        customer_id=row["customer_id"], purchase_id=row["id"], order_id=row["order_id"],
        amount=ctx.to_amount(row["amount_minor"]), currency=row["currency"], occurred_at=row["occurred_at"], channel=row["channel"],
    )
    return ctx.event(payload, backfill=backfill)


async def _resolve_customers(session: AsyncSession, items: list[PurchaseCreate]) -> dict:
    """(field, reference) → active customer id (merges followed), or the Outcome that explains why not."""
    references = {
        "customer_id": {item.customer_id for item in items if item.customer_id},
        "customer_external_id": {item.customer_external_id for item in items if item.customer_external_id},
    }
    found = await _share_locked_customers(session, references["customer_id"], references["customer_external_id"])
    resolved: dict = {}
    for field, wanted in references.items():
        for row in found:
            reference = row.id if field == "customer_id" else row.external_id
            if reference not in wanted:
                continue
            try:
                resolved[(field, reference)] = row.id if row.status == "active" else (await resolve_active(session, row.id, field=field)).id
            except Problem as problem:
                resolved[(field, reference)] = problem_outcome(problem)
        for reference in wanted:
            resolved.setdefault((field, reference), error_outcome(422, "Unknown customer", f"no customer '{reference}'", field))
    return resolved


async def _share_locked_customers(session: AsyncSession, ids: set[str], external_ids: set[str]) -> list[sa.Row]:
    """The batch's customers, share-locked until commit in id order (as merges lock, so neither waits
    on the other in a circle), as they are once any merge holding one of them has ended: a merge
    either waits and then moves what this batch writes, or ended before, and the batch follows it
    (see resolve_active). On PostgreSQL one statement reads and locks them all; an external_id never
    changes, so a row that a merge held still matches after the wait. Rows, not ORM objects: only
    three columns are needed, and loading a thousand customers cost more than reading them."""
    conditions = [*any_of(session, Customer.id, ids), *any_of(session, Customer.external_id, external_ids)]
    if conditions and on_postgres(session):
        conditions = [sa.or_(*conditions)]
    rows: dict[str, sa.Row] = {}
    for condition in conditions:  # SQLite: chunks, and no lock to take (one writer at a time)
        query = sa.select(Customer.id, Customer.external_id, Customer.status).where(condition).order_by(Customer.id)
        rows.update((row.id, row) for row in await session.execute(query.with_for_update(read=True)))
    return list(rows.values())


async def _existing_orders(session: AsyncSession, order_ids: list[str]) -> dict[str, tuple[str, str]]:
    existing: dict[str, tuple[str, str]] = {}
    for condition in any_of(session, Purchase.order_id, order_ids):
        rows = await session.execute(sa.select(Purchase.order_id, Purchase.id, Purchase.fingerprint).where(condition))
        existing.update({order_id: (purchase_id, print_) for order_id, purchase_id, print_ in rows})
    return existing


async def refund_purchase(session: AsyncSession, ctx: ProfilesContext, purchase: Purchase, data: RefundCreate) -> tuple[Refund, bool]:
    known = await session.scalar(sa.select(Refund).where(Refund.refund_id == data.refund_id))
    remaining = purchase.amount_minor - purchase.refunded_minor
    amount_minor = ctx.to_minor_units(data.amount, field="amount") if data.amount is not None else None
    if known is not None:
        if known.purchase_id == purchase.id and (amount_minor is None or amount_minor == known.amount_minor) and known.occurred_at == data.occurred_at:
            return known, False
        raise Problem(409, "Refund already recorded", "this refund_id was recorded with different details", field="refund_id", existing_id=known.id)
    if amount_minor is None:
        amount_minor = remaining
    if amount_minor <= 0 and remaining == 0:
        raise Problem(409, "Already refunded", "the purchase is fully refunded", field="amount")
    if amount_minor > remaining:
        raise Problem(422, "Validation failed", f"exceeds what remains to refund ({ctx.to_amount(remaining)})", field="amount")
    if amount_minor == 0:
        raise Problem(422, "Validation failed", "must be greater than zero", field="amount")
    refund = Refund(id=new_id(), refund_id=data.refund_id, purchase_id=purchase.id, amount_minor=amount_minor,
                    occurred_at=data.occurred_at, created_at=utcnow())
    purchase.refunded_minor += amount_minor
    session.add_all([refund, purchase])
    payload = PurchaseRefunded(
        customer_id=purchase.customer_id, purchase_id=purchase.id, order_id=purchase.order_id, refund_id=data.refund_id,
        amount=ctx.to_amount(amount_minor), refunded_total=ctx.to_amount(purchase.refunded_minor), currency=purchase.currency,
        fully_refunded=purchase.refunded_minor == purchase.amount_minor, occurred_at=data.occurred_at,
        purchase_occurred_at=purchase.occurred_at,
    )
    await add_events(session, [ctx.event(payload)])
    return refund, True


async def list_purchases(session: AsyncSession, customer_id: str, *, cursor: str | None, limit: int) -> tuple[list[Purchase], str | None]:
    query = sa.select(Purchase).where(Purchase.customer_id == customer_id)
    return await keyset_page(session, query, time_column=Purchase.occurred_at, id_column=Purchase.id, cursor=cursor, limit=limit)


async def get_purchase(session: AsyncSession, purchase_id: str, *, for_update: bool = False) -> Purchase:
    """`for_update` locks the row until commit: refunds of one purchase are decided one after the other."""
    purchase = await session.get(Purchase, purchase_id, with_for_update=for_update or None, populate_existing=for_update)
    if purchase is None:
        raise Problem(404, "Not Found", f"no purchase with id '{purchase_id}'", field="purchase_id")
    return purchase
