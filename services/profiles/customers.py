"""Customer master data: create, update, upsert, merge, erase, find duplicates, search."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.catalog import CustomerCreated, CustomerErased, CustomerMerged, CustomerUpdated
from services.common.errors import Problem
from services.common.ids import new_id
from services.common.outbox import add_events
from services.common.pagination import keyset_page
from services.common.privacy import normalise_text, search_tokens
from services.common.timeutil import utcnow
from services.profiles.batch import ItemOutcome, error_outcome, invalid_outcome, problem_outcome
from services.profiles.contact import normalise_email, normalise_phone
from services.profiles.context import ProfilesContext
from services.profiles.models import Customer, CustomerTag, Interaction, NameToken, Purchase
from services.profiles.schemas import CustomerFields, CustomerOut, CustomerUpsert

PERSONAL_FIELDS = ("name", "email", "phone", "address")
PLAIN_FIELDS = ("company", "tags", "attributes", "consent")


@dataclass(frozen=True)
class CustomerFilter:
    external_id: str | None = None
    tag: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    name_query: str | None = None
    status: str = "active"


def normalised_contact(ctx: ProfilesContext, fields: dict) -> dict:
    """Validates and normalises email and phone in place; errors name the field."""
    for name, normalise in (("email", normalise_email), ("phone", _phone_normaliser(ctx))):
        if fields.get(name) is not None:
            try:
                fields[name] = normalise(fields[name])
            except ValueError as error:
                raise Problem(422, "Validation failed", str(error), field=name) from None
    return fields


def _phone_normaliser(ctx: ProfilesContext):
    return lambda value: normalise_phone(value, default_region=ctx.default_phone_region)


def to_out(ctx: ProfilesContext, customer: Customer, *, with_personal_data: bool) -> CustomerOut:
    personal = _personal_fields(ctx, customer) if with_personal_data else dict.fromkeys(PERSONAL_FIELDS)
    return CustomerOut(
        id=customer.id, external_id=customer.external_id, company=customer.company, tags=customer.tags,
        attributes=customer.attributes, consent=customer.consent, status=customer.status,
        merged_into=customer.merged_into, personal_data_redacted=not with_personal_data,
        version=customer.version, created_at=customer.created_at, updated_at=customer.updated_at, **personal,
    )


def _personal_fields(ctx: ProfilesContext, customer: Customer) -> dict:
    return {name: ctx.cipher.decrypt(getattr(customer, f"{name}_enc")) for name in PERSONAL_FIELDS}


def current_fields(ctx: ProfilesContext, customer: Customer) -> dict:
    return _personal_fields(ctx, customer) | {name: getattr(customer, name) for name in PLAIN_FIELDS}


async def get_customer(session: AsyncSession, customer_id: str, *, field: str = "customer_id") -> Customer:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise Problem(404, "Not Found", f"no customer with id '{customer_id}'", field=field)
    return customer


async def resolve_active(session: AsyncSession, customer_id: str, *, field: str) -> Customer:
    """Follows merges to the surviving customer; an erased or unknown customer is an error."""
    customer = await session.get(Customer, customer_id)
    for _ in range(10):
        if customer is None or customer.status != "merged":
            break
        customer = await session.get(Customer, customer.merged_into)
    if customer is None:
        raise Problem(422, "Unknown customer", f"no customer with id '{customer_id}'", field=field)
    if customer.status == "erased":
        raise Problem(422, "Customer erased", f"customer '{customer_id}' was erased", field=field)
    return customer


async def _assert_contact_free(session: AsyncSession, ctx: ProfilesContext, fields: dict, *, except_id: str | None) -> None:
    for name in ("email", "phone"):
        if fields.get(name) is None:
            continue
        digest = ctx.index.digest(name, fields[name])
        query = sa.select(Customer.id).where(getattr(Customer, f"{name}_hash") == digest)
        if except_id:
            query = query.where(Customer.id != except_id)
        existing = await session.scalar(query)
        if existing:
            raise Problem(409, "Duplicate customer", f"another customer already has this {name}", field=name, existing_id=existing)


def _apply_fields(ctx: ProfilesContext, customer: Customer, fields: dict) -> None:
    for name in PERSONAL_FIELDS:
        if name in fields:
            value = fields[name]
            setattr(customer, f"{name}_enc", ctx.cipher.encrypt(value))
            if name == "name":
                customer.name_hash = ctx.index.digest("name", normalise_text(value)) if value else None
            elif name in ("email", "phone"):
                setattr(customer, f"{name}_hash", ctx.index.digest(name, value) if value else None)
    for name in PLAIN_FIELDS:
        if name in fields:
            setattr(customer, name, _or_empty(name, fields[name]))


async def _write_search_rows(session: AsyncSession, ctx: ProfilesContext, customer: Customer, fields: dict) -> None:
    if "name" in fields:
        await session.execute(sa.delete(NameToken).where(NameToken.customer_id == customer.id))
        tokens = search_tokens(fields["name"] or "")
        if tokens:
            await session.execute(sa.insert(NameToken), [
                {"customer_id": customer.id, "token_hash": ctx.index.digest("name-token", token)} for token in tokens
            ])
    if "tags" in fields:
        await session.execute(sa.delete(CustomerTag).where(CustomerTag.customer_id == customer.id))
        if customer.tags:
            await session.execute(sa.insert(CustomerTag), [{"customer_id": customer.id, "tag": tag} for tag in set(customer.tags)])


async def _write_changes(session: AsyncSession, ctx: ProfilesContext, customer: Customer, fields: dict) -> None:
    _apply_fields(ctx, customer, fields)
    customer.version += 1
    customer.updated_at = utcnow()
    session.add(customer)
    await session.flush()
    await _write_search_rows(session, ctx, customer, fields)


def _fields_of(data: CustomerFields, *, only_sent: bool) -> dict:
    fields = data.model_dump(exclude_unset=only_sent, exclude={"external_id"})
    if "tags" in fields and fields["tags"] is not None:
        fields["tags"] = list(dict.fromkeys(fields["tags"]))
    return fields


async def create_customer(session: AsyncSession, ctx: ProfilesContext, data: CustomerFields) -> tuple[Customer, bool]:
    """Returns the customer and whether it was created; the same create again returns the first."""
    fields = normalised_contact(ctx, _fields_of(data, only_sent=False))
    external_id = getattr(data, "external_id", None)
    if external_id is not None:
        existing = await session.scalar(sa.select(Customer).where(Customer.external_id == external_id))
        if existing is not None:
            if existing.status == "active" and current_fields(ctx, existing) == _complete(fields):
                return existing, False
            raise Problem(409, "Duplicate customer", "a different customer already has this external_id",
                          field="external_id", existing_id=existing.id)
    await _assert_contact_free(session, ctx, fields, except_id=None)
    now = utcnow()
    customer = Customer(id=new_id(), external_id=external_id, created_at=now, updated_at=now)
    _apply_fields(ctx, customer, fields)
    session.add(customer)
    await session.flush()
    await _write_search_rows(session, ctx, customer, fields)
    await _publish(session, ctx, CustomerCreated(
        customer_id=customer.id, external_id=external_id, tag_count=len(customer.tags), has_email=bool(fields.get("email")),
        has_phone=bool(fields.get("phone")), consent=customer.consent, created_at=now,
    ))
    return customer, True


EMPTY = {"tags": [], "attributes": {}, "consent": {}}


def _or_empty(name: str, value):
    return EMPTY.get(name) if value is None else value


def _complete(fields: dict) -> dict:
    return {name: _or_empty(name, fields.get(name)) for name in PERSONAL_FIELDS + PLAIN_FIELDS}


async def update_customer(session: AsyncSession, ctx: ProfilesContext, customer: Customer, data: CustomerFields) -> bool:
    """Applies the fields sent; returns whether anything changed."""
    if customer.status != "active":
        raise Problem(409, "Customer not active", f"customer is {customer.status}; it cannot be changed", field="customer_id")
    fields = normalised_contact(ctx, _fields_of(data, only_sent=True))
    if fields.get("name", "") is None:
        raise Problem(422, "Validation failed", "cannot be cleared", field="name")
    before = current_fields(ctx, customer)
    changed = {name: _or_empty(name, value) for name, value in fields.items() if before[name] != _or_empty(name, value)}
    if not changed:
        return False
    await _assert_contact_free(session, ctx, changed, except_id=customer.id)
    await _write_changes(session, ctx, customer, changed)
    await _publish(session, ctx, CustomerUpdated(
        customer_id=customer.id, changed_fields=sorted(changed), tag_count=len(customer.tags), consent=customer.consent,
        updated_at=customer.updated_at,
    ))
    return True


async def merge_customers(session: AsyncSession, ctx: ProfilesContext, survivor_id: str, duplicate_ids: list[str]) -> tuple[Customer, int, int]:
    if survivor_id in duplicate_ids:
        raise Problem(422, "Validation failed", "the survivor cannot also be a duplicate", field="duplicate_ids")
    survivor = await get_customer(session, survivor_id, field="survivor_id")
    if survivor.status != "active":
        raise Problem(409, "Customer not active", f"survivor is {survivor.status}", field="survivor_id")
    moved_purchases = moved_interactions = 0
    for position, duplicate_id in enumerate(dict.fromkeys(duplicate_ids)):
        duplicate = await get_customer(session, duplicate_id, field=f"duplicate_ids[{position}]")
        if duplicate.status != "active":
            raise Problem(409, "Customer not active", f"duplicate is {duplicate.status}", field=f"duplicate_ids[{position}]")
        purchases, interactions = await _absorb(session, ctx, survivor, duplicate)
        moved_purchases += purchases
        moved_interactions += interactions
    return survivor, moved_purchases, moved_interactions


async def _absorb(session: AsyncSession, ctx: ProfilesContext, survivor: Customer, duplicate: Customer) -> tuple[int, int]:
    survivor_fields, duplicate_fields = current_fields(ctx, survivor), current_fields(ctx, duplicate)
    filled = {name: duplicate_fields[name] for name in PERSONAL_FIELDS + ("company",)
              if not survivor_fields.get(name) and duplicate_fields.get(name)}
    filled["tags"] = list(dict.fromkeys(survivor.tags + duplicate.tags))
    filled["attributes"] = duplicate.attributes | survivor.attributes
    await _clear_personal_data(session, duplicate)
    duplicate.status, duplicate.merged_into, duplicate.updated_at = "merged", survivor.id, utcnow()
    session.add(duplicate)
    await session.flush()
    await _write_changes(session, ctx, survivor, filled)
    purchases = await session.execute(sa.update(Purchase).where(Purchase.customer_id == duplicate.id).values(customer_id=survivor.id))
    interactions = await session.execute(
        sa.update(Interaction).where(Interaction.customer_id == duplicate.id).values(customer_id=survivor.id)
    )
    await _publish(session, ctx, CustomerMerged(
        customer_id=survivor.id, merged_customer_id=duplicate.id, moved_purchases=purchases.rowcount,
        moved_interactions=interactions.rowcount, merged_at=survivor.updated_at,
    ))
    return purchases.rowcount, interactions.rowcount


async def _clear_personal_data(session: AsyncSession, customer: Customer) -> None:
    for name in PERSONAL_FIELDS:
        setattr(customer, f"{name}_enc", None)
    customer.name_hash = customer.email_hash = customer.phone_hash = None
    customer.attributes = {}
    await session.execute(sa.delete(NameToken).where(NameToken.customer_id == customer.id))
    await session.execute(sa.delete(CustomerTag).where(CustomerTag.customer_id == customer.id))


async def erase_customer(session: AsyncSession, ctx: ProfilesContext, customer: Customer) -> bool:
    """Deletes personal data, keeps a tombstone with the id; returns False if already erased."""
    if customer.status == "erased":
        return False
    await _clear_personal_data(session, customer)
    customer.tags, customer.company, customer.consent = [], None, {}
    customer.status, customer.erased_at = "erased", utcnow()
    customer.updated_at = customer.erased_at
    customer.version += 1
    session.add(customer)
    await session.execute(sa.update(Interaction).where(Interaction.customer_id == customer.id).values(note_enc=None))
    await _publish(session, ctx, CustomerErased(customer_id=customer.id, erased_at=customer.erased_at))
    return True


async def find_duplicates(session: AsyncSession, customer: Customer) -> list[tuple[str, list[str], float]]:
    weights = {"same_email": 0.9, "same_phone": 0.9, "same_name_and_company": 0.7, "same_name": 0.4}
    reasons: dict[str, list[str]] = {}
    probes = [("same_email", Customer.email_hash, customer.email_hash), ("same_phone", Customer.phone_hash, customer.phone_hash),
              ("same_name", Customer.name_hash, customer.name_hash)]
    for reason, column, value in probes:
        if value is None:
            continue
        rows = (await session.execute(
            sa.select(Customer.id, Customer.company).where(column == value, Customer.id != customer.id, Customer.status == "active")
        )).all()
        for other_id, company in rows:
            same_company = reason == "same_name" and company and company == customer.company
            reasons.setdefault(other_id, []).append("same_name_and_company" if same_company else reason)
    candidates = []
    for other_id, found in reasons.items():
        remaining = 1.0
        for reason in found:
            remaining *= 1 - weights[reason]
        candidates.append((other_id, found, round(1 - remaining, 3)))
    return sorted(candidates, key=lambda candidate: -candidate[2])


async def list_customers(session: AsyncSession, ctx: ProfilesContext, filters: CustomerFilter, *, cursor: str | None, limit: int) -> tuple[list[Customer], str | None]:
    query = sa.select(Customer).where(Customer.status == filters.status)
    if filters.external_id:
        query = query.where(Customer.external_id == filters.external_id)
    if filters.tag:
        query = query.where(Customer.id.in_(sa.select(CustomerTag.customer_id).where(CustomerTag.tag == filters.tag)))
    if filters.created_from:
        query = query.where(Customer.created_at >= filters.created_from)
    if filters.created_to:
        query = query.where(Customer.created_at < filters.created_to)
    if filters.name_query:
        query = query.where(Customer.id.in_(_name_match(ctx, filters.name_query)))
    return await keyset_page(session, query, time_column=Customer.created_at, id_column=Customer.id, cursor=cursor, limit=limit)


def _name_match(ctx: ProfilesContext, text: str):
    digests = sorted({ctx.index.digest("name-token", token) for token in search_tokens(text)})
    if not digests:
        return sa.select(NameToken.customer_id).where(sa.false())
    return (
        sa.select(NameToken.customer_id).where(NameToken.token_hash.in_(digests))
        .group_by(NameToken.customer_id).having(sa.func.count(sa.distinct(NameToken.token_hash)) == len(digests))
    )


async def _publish(session: AsyncSession, ctx: ProfilesContext, payload) -> None:
    await add_events(session, [ctx.event(payload)])


async def upsert_customers(session: AsyncSession, ctx: ProfilesContext, items: list[dict]) -> list[ItemOutcome]:
    """By external_id: create the new, update the changed; each item in its own savepoint."""
    outcomes = []
    for item in items:
        try:
            data = CustomerUpsert.model_validate(item)
        except ValidationError as error:
            outcomes.append(invalid_outcome(error))
            continue
        try:
            async with session.begin_nested():
                outcomes.append(await _upsert_one(session, ctx, data))
        except Problem as problem:
            outcomes.append(problem_outcome(problem))
        except IntegrityError:
            outcomes.append(error_outcome(409, "Conflict", "conflicts with another item or customer", "external_id"))
    return outcomes


async def _upsert_one(session: AsyncSession, ctx: ProfilesContext, data: CustomerUpsert) -> ItemOutcome:
    existing = await session.scalar(sa.select(Customer).where(Customer.external_id == data.external_id))
    if existing is None:
        customer, _ = await create_customer(session, ctx, data)
        return ItemOutcome("created", 201, record_id=customer.id)
    changed = await update_customer(session, ctx, existing, data)
    return ItemOutcome("updated" if changed else "unchanged", 200, record_id=existing.id)
