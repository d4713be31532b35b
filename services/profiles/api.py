"""Routes of the profiles service: validate, call the service functions, shape the answer."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from services.common.auth import Principal, require
from services.common.conditional import check_if_match, etag
from services.common.deps import DatabaseDep, service_context
from services.common.errors import Problem
from services.common.pagination import DEFAULT_PAGE_SIZE, Cursor, Limit, Page
from services.common.text import storable_parameters
from services.common.transactions import write
from services.profiles import customers, interactions, purchases
from services.profiles.batch import ItemOutcome
from services.profiles.context import ProfilesContext
from services.profiles.schemas import (
    BatchItemResult, BatchRequest, BatchResult, CustomerCreate, CustomerOut, CustomerUpdate, DuplicateCandidate,
    InteractionCreate, InteractionOut, MergeOut, MergeRequest, PurchaseBatchRequest, PurchaseCreate, PurchaseOut,
    RefundCreate, RefundOut,
)




ContextDep = Annotated[ProfilesContext, Depends(service_context)]

router = APIRouter(prefix="/v1", dependencies=[Depends(storable_parameters)])


def _check_batch_size(ctx: ProfilesContext, body: BatchRequest) -> None:
    if len(body.items) > ctx.max_batch_items:
        raise Problem(422, "Validation failed", f"at most {ctx.max_batch_items} items per batch, got {len(body.items)}", field="items")


def _batch_result(outcomes: list[ItemOutcome]) -> BatchResult:
    results = [BatchItemResult(index=index, status=o.status, http_status=o.http_status, id=o.record_id, error=o.error)
               for index, o in enumerate(outcomes)]
    count = {status: sum(1 for o in outcomes if o.status == status) for status in ("created", "updated", "unchanged", "error")}
    return BatchResult(results=results, created=count["created"], updated=count["updated"], unchanged=count["unchanged"], failed=count["error"])


def _customer_out(ctx: ProfilesContext, customer, principal: Principal, response: Response) -> CustomerOut:
    """The customer, with its version as the `ETag` that a PATCH may send back in `If-Match`."""
    response.headers["ETag"] = etag(customer.version)
    return customers.to_out(ctx, customer, with_personal_data=principal.may("pii:read"))


def _purchase_out(ctx: ProfilesContext, purchase) -> PurchaseOut:
    return PurchaseOut(
        id=purchase.id, order_id=purchase.order_id, customer_id=purchase.customer_id, amount=ctx.to_amount(purchase.amount_minor),
        refunded_amount=ctx.to_amount(purchase.refunded_minor), currency=purchase.currency, channel=purchase.channel,
        occurred_at=purchase.occurred_at, created_at=purchase.created_at, backfill=purchase.backfill,
    )


# --- customers ---------------------------------------------------------------------------------

@router.post("/customers", status_code=201, response_model=CustomerOut, tags=["customers"],
             summary="Create a customer (the same external_id and body again returns the first, with 200)")
async def create_customer(body: CustomerCreate, response: Response, db: DatabaseDep, ctx: ContextDep,
                          principal: Annotated[Principal, Depends(require("customers:write"))]):
    customer, created = await write(db, lambda session: customers.create_customer(session, ctx, body))
    response.status_code = 201 if created else 200
    return _customer_out(ctx, customer, principal, response)


@router.get("/customers", response_model=Page[CustomerOut], tags=["customers"], summary="List and search customers")
async def list_customers(
    db: DatabaseDep, ctx: ContextDep, principal: Annotated[Principal, Depends(require("customers:read"))],
    external_id: Annotated[str | None, Query(max_length=200)] = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    created_from: datetime | None = None, created_to: datetime | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Words or characters of the name")] = None,
    status: Annotated[str, Query(pattern="^(active|merged|erased)$")] = "active",
    cursor: Cursor = None, limit: Limit = DEFAULT_PAGE_SIZE,
):
    for name, moment in (("created_from", created_from), ("created_to", created_to)):
        if moment is not None and moment.tzinfo is None:
            raise Problem(422, "Validation failed", "must include a time zone offset", field=name)
    filters = customers.CustomerFilter(external_id, tag, created_from, created_to, q, status)
    async with db.sessions() as session:
        rows, next_cursor = await customers.list_customers(session, ctx, filters, cursor=cursor, limit=limit)
    with_personal_data = principal.may("pii:read")
    return Page(items=[customers.to_out(ctx, row, with_personal_data=with_personal_data) for row in rows], next_cursor=next_cursor)


@router.post("/customers:batch", response_model=BatchResult, tags=["customers"], summary="Upsert up to 5,000 customers by external_id")
async def upsert_customers(body: BatchRequest, db: DatabaseDep, ctx: ContextDep, _: Annotated[Principal, Depends(require("customers:write"))]):
    _check_batch_size(ctx, body)
    return _batch_result(await write(db, lambda session: customers.upsert_customers(session, ctx, body.items)))


@router.post("/customers:merge", response_model=MergeOut, tags=["customers"], summary="Merge duplicates into a survivor")
async def merge_customers(body: MergeRequest, db: DatabaseDep, ctx: ContextDep,
                          principal: Annotated[Principal, Depends(require("customers:merge"))]):
    survivor, moved_purchases, moved_interactions = await write(
        db, lambda session: customers.merge_customers(session, ctx, body.survivor_id, body.duplicate_ids))
    survivor_out = customers.to_out(ctx, survivor, with_personal_data=principal.may("pii:read"))
    return MergeOut(survivor=survivor_out, merged_ids=list(dict.fromkeys(body.duplicate_ids)),
                    moved_purchases=moved_purchases, moved_interactions=moved_interactions)


@router.get("/customers/{customer_id}", response_model=CustomerOut, tags=["customers"], summary="Get a customer")
async def get_customer(customer_id: str, response: Response, db: DatabaseDep, ctx: ContextDep,
                       principal: Annotated[Principal, Depends(require("customers:read"))]):
    async with db.sessions() as session:
        customer = await customers.get_customer(session, customer_id)
    if customer.status == "erased":
        raise Problem(410, "Customer erased", f"customer '{customer_id}' was erased", field="customer_id")
    return _customer_out(ctx, customer, principal, response)


@router.patch("/customers/{customer_id}", response_model=CustomerOut, tags=["customers"],
              summary="Change some fields of a customer (send the ETag you read as If-Match to refuse a stale change with 412)")
async def update_customer(customer_id: str, body: CustomerUpdate, response: Response, db: DatabaseDep, ctx: ContextDep,
                          principal: Annotated[Principal, Depends(require("customers:write"))],
                          if_match: Annotated[str | None, Header(max_length=500)] = None):
    async def change(session):
        customer = await customers.get_customer(session, customer_id, for_update=True)
        check_if_match(if_match, customer.version)
        await customers.update_customer(session, ctx, customer, body)
        return customer

    return _customer_out(ctx, await write(db, change), principal, response)


@router.delete("/customers/{customer_id}", status_code=204, tags=["customers"],
               summary="Erase a customer's personal data, keeping a tombstone")
async def erase_customer(customer_id: str, db: DatabaseDep, ctx: ContextDep, _: Annotated[Principal, Depends(require("customers:erase"))]):
    async def erase(session):
        await customers.erase_customer(session, ctx, await customers.get_customer(session, customer_id, for_update=True))

    await write(db, erase)
    return Response(status_code=204)


@router.get("/customers/{customer_id}/duplicates", response_model=list[DuplicateCandidate], tags=["customers"],
            summary="Likely duplicates of a customer")
async def duplicates(customer_id: str, db: DatabaseDep, _: Annotated[Principal, Depends(require("customers:read"))]):
    async with db.sessions() as session:
        customer = await customers.get_customer(session, customer_id)
        found = await customers.find_duplicates(session, customer)
    return [DuplicateCandidate(customer_id=other, reasons=reasons, score=score) for other, reasons, score in found]


# --- purchases ---------------------------------------------------------------------------------

@router.post("/purchases", status_code=201, response_model=PurchaseOut, tags=["purchases"],
             summary="Record a purchase (idempotent by order_id)")
async def record_purchase(body: PurchaseCreate, response: Response, db: DatabaseDep, ctx: ContextDep,
                          _: Annotated[Principal, Depends(require("purchases:write"))]):
    purchase, created = await write(db, lambda session: purchases.record_purchase(session, ctx, body))
    response.status_code = 201 if created else 200
    return _purchase_out(ctx, purchase)


@router.post("/purchases:batch", response_model=BatchResult, tags=["purchases"],
             summary="Record up to 5,000 purchases; `backfill: true` marks an import of history")
async def record_purchases(body: PurchaseBatchRequest, db: DatabaseDep, ctx: ContextDep,
                           _: Annotated[Principal, Depends(require("purchases:write"))]):
    _check_batch_size(ctx, body)
    items = purchases.validate_items(body.items)
    return _batch_result(await write(db, lambda session: purchases.record_purchases(session, ctx, items, backfill=body.backfill)))


@router.get("/purchases/{purchase_id}", response_model=PurchaseOut, tags=["purchases"], summary="Get a purchase")
async def get_purchase(purchase_id: str, db: DatabaseDep, ctx: ContextDep, _: Annotated[Principal, Depends(require("purchases:read"))]):
    async with db.sessions() as session:
        return _purchase_out(ctx, await purchases.get_purchase(session, purchase_id))


@router.post("/purchases/{purchase_id}/refunds", status_code=201, response_model=RefundOut, tags=["purchases"],
             summary="Refund a purchase in full or in part (idempotent by refund_id)")
async def refund_purchase(purchase_id: str, body: RefundCreate, response: Response, db: DatabaseDep, ctx: ContextDep,
                          _: Annotated[Principal, Depends(require("purchases:write"))]):
    async def refund_locked(session):
        purchase = await purchases.get_purchase(session, purchase_id, for_update=True)
        return await purchases.refund_purchase(session, ctx, purchase, body)

    refund, created = await write(db, refund_locked)
    response.status_code = 201 if created else 200
    return RefundOut(id=refund.id, refund_id=refund.refund_id, purchase_id=refund.purchase_id,
                     amount=ctx.to_amount(refund.amount_minor), occurred_at=refund.occurred_at)


@router.get("/customers/{customer_id}/purchases", response_model=Page[PurchaseOut], tags=["purchases"],
            summary="A customer's purchases, oldest first")
async def list_purchases(customer_id: str, db: DatabaseDep, ctx: ContextDep, _: Annotated[Principal, Depends(require("purchases:read"))],
                         cursor: Cursor = None, limit: Limit = DEFAULT_PAGE_SIZE):
    async with db.sessions() as session:
        await customers.get_customer(session, customer_id)
        rows, next_cursor = await purchases.list_purchases(session, customer_id, cursor=cursor, limit=limit)
    return Page(items=[_purchase_out(ctx, row) for row in rows], next_cursor=next_cursor)


# --- interactions ------------------------------------------------------------------------------

@router.post("/interactions", status_code=201, response_model=InteractionOut, tags=["interactions"],
             summary="Log a call, visit, email, chat or follow-up")
async def log_interaction(body: InteractionCreate, db: DatabaseDep, ctx: ContextDep,
                          principal: Annotated[Principal, Depends(require("interactions:write"))]):
    interaction = await write(db, lambda session: interactions.log_interaction(session, ctx, body))
    return interactions.interaction_out(ctx, interaction, with_personal_data=principal.may("pii:read"))


@router.get("/customers/{customer_id}/interactions", response_model=Page[InteractionOut], tags=["interactions"],
            summary="A customer's interactions, oldest first")
async def list_interactions(customer_id: str, db: DatabaseDep, ctx: ContextDep,
                            principal: Annotated[Principal, Depends(require("interactions:read"))],
                            cursor: Cursor = None, limit: Limit = DEFAULT_PAGE_SIZE):
    async with db.sessions() as session:
        await customers.get_customer(session, customer_id)
        rows, next_cursor = await interactions.list_interactions(session, customer_id, cursor=cursor, limit=limit)
    with_personal_data = principal.may("pii:read")
    return Page(items=[interactions.interaction_out(ctx, row, with_personal_data=with_personal_data) for row in rows], next_cursor=next_cursor)
