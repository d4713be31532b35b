"""Customer master data: create, update, upsert, merge, erase, find duplicates, search."""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.bulk import any_of, insert_rows
from services.common.catalog import CustomerCreated, CustomerErased, CustomerMerged, CustomerUpdated
from services.common.errors import Problem
from services.common.ids import new_id
from services.common.outbox import add_events
from services.common.pagination import keyset_page
from services.common.privacy import normalise_text, search_tokens
from services.common.timeutil import utcnow
from services.common.transactions import UNIQUE_VIOLATION, sqlstate
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


async def get_customer(session: AsyncSession, customer_id: str, *, field: str = "customer_id", for_update: bool = False) -> Customer:
    """`for_update` locks the row until commit, so that concurrent changes apply one after the other."""
    customer = await session.get(Customer, customer_id, with_for_update=for_update or None, populate_existing=for_update)
    if customer is None:
        raise Problem(404, "Not Found", f"no customer with id '{customer_id}'", field=field)
    return customer


async def resolve_active(session: AsyncSession, customer_id: str, *, field: str) -> Customer:
    """Follows merges to the surviving customer; an erased or unknown customer is an error.

    Each customer on the way is share-locked until commit: a merge (which locks for update) either
    waits for this write, and then moves what it wrote, or ends first, and this write follows it."""
    customer = await share_locked(session, customer_id)
    for _ in range(10):
        if customer is None or customer.status != "merged":
            break
        customer = await share_locked(session, customer.merged_into)
    if customer is None:
        raise Problem(422, "Unknown customer", f"no customer with id '{customer_id}'", field=field)
    if customer.status == "erased":
        raise Problem(422, "Customer erased", f"customer '{customer_id}' was erased", field=field)
    return customer


async def share_locked(session: AsyncSession, customer_id: str) -> Customer | None:
    return await session.get(Customer, customer_id, with_for_update={"read": True}, populate_existing=True)


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
    for column, value in _column_values(ctx, fields).items():
        setattr(customer, column, value)


def _column_values(ctx: ProfilesContext, fields: dict) -> dict:
    """The customer's columns for the fields given: personal data encrypted, with its search digests."""
    values = {}
    for name in PERSONAL_FIELDS:
        if name in fields:
            value = fields[name]
            values[f"{name}_enc"] = ctx.cipher.encrypt(value)
            if name == "name":
                values["name_hash"] = ctx.index.digest("name", normalise_text(value)) if value else None
            elif name in ("email", "phone"):
                values[f"{name}_hash"] = ctx.index.digest(name, value) if value else None
    for name in PLAIN_FIELDS:
        if name in fields:
            values[name] = _or_empty(name, fields[name])
    return values


async def _write_search_rows(session: AsyncSession, ctx: ProfilesContext, customer: Customer, fields: dict) -> None:
    if "name" in fields:
        await session.execute(sa.delete(NameToken).where(NameToken.customer_id == customer.id))
        tokens = _name_token_rows(ctx, customer.id, fields["name"])
        if tokens:
            await session.execute(sa.insert(NameToken), tokens)
    if "tags" in fields:
        await session.execute(sa.delete(CustomerTag).where(CustomerTag.customer_id == customer.id))
        if customer.tags:
            await session.execute(sa.insert(CustomerTag), _tag_rows(customer.id, customer.tags))


def _name_token_rows(ctx: ProfilesContext, customer_id: str, name: str | None) -> list[dict]:
    return [{"customer_id": customer_id, "token_hash": ctx.index.digest("name-token", token)} for token in search_tokens(name or "")]


def _tag_rows(customer_id: str, tags: list[str]) -> list[dict]:
    return [{"customer_id": customer_id, "tag": tag} for tag in set(tags)]


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
    return await _insert_customer(session, ctx, fields, external_id), True


async def _insert_customer(session: AsyncSession, ctx: ProfilesContext, fields: dict, external_id: str | None) -> Customer:
    """A new customer; a concurrent insert of the same external_id, email or phone fails on the unique index."""
    await _assert_contact_free(session, ctx, fields, except_id=None)
    now = utcnow()
    customer = Customer(id=new_id(), external_id=external_id, created_at=now, updated_at=now)
    _apply_fields(ctx, customer, fields)
    session.add(customer)
    await session.flush()
    await _write_search_rows(session, ctx, customer, fields)
    await _publish(session, ctx, _created_event(fields, customer_id=customer.id, external_id=external_id, tags=customer.tags,
                                                consent=customer.consent, created_at=now))
    return customer


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
    await _lock_in_order(session, [survivor_id, *duplicate_ids])
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


async def _lock_in_order(session: AsyncSession, customer_ids: list[str]) -> None:
    """Locks every customer of a merge, always in id order, so that two merges cannot deadlock."""
    query = sa.select(Customer).where(Customer.id.in_(set(customer_ids))).order_by(Customer.id)
    await session.scalars(query.with_for_update().execution_options(populate_existing=True))


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
    """By external_id: create the new, update the changed. New customers go in together; should that
    meet a concurrent writer's row, the whole batch is decided again item by item, each in its savepoint."""
    decided = [validated_upsert(item) for item in items]
    try:
        async with session.begin_nested():
            return await _upsert_set(session, ctx, decided)
    except DBAPIError as error:
        if not isinstance(error, IntegrityError) and sqlstate(error) != UNIQUE_VIOLATION:
            raise
    return await upsert_each(session, ctx, decided)


def validated_upsert(item: dict) -> CustomerUpsert | ItemOutcome:
    try:
        return CustomerUpsert.model_validate(item)
    except ValidationError as error:
        return invalid_outcome(error)


async def upsert_each(session: AsyncSession, ctx: ProfilesContext, decided: list[CustomerUpsert | ItemOutcome]) -> list[ItemOutcome]:
    """Item by item, each in its own savepoint: the path for any batch, and the set path's fallback."""
    return [item if isinstance(item, ItemOutcome) else await _upsert_in_savepoint(session, ctx, item) for item in decided]


async def _upsert_set(session: AsyncSession, ctx: ProfilesContext, decided: list[CustomerUpsert | ItemOutcome]) -> list[ItemOutcome]:
    """The outcomes and writes of `upsert_each`, in the same order: runs of new customers are
    inserted together, an item that changes a customer (or names an external_id twice) goes alone,
    after the new ones before it are written, so that each item sees what the items before it did."""
    valid = [item for item in decided if isinstance(item, CustomerUpsert)]
    existing = await _locked_by_external_id(session, [item.external_id for item in valid])
    repeated = {external_id for external_id, count in Counter(item.external_id for item in valid).items() if count > 1}
    outcomes: list[ItemOutcome | None] = []
    pending: list[tuple[int, CustomerUpsert]] = []

    async def write_pending() -> None:
        for (position, _), outcome in zip(pending, await _insert_new(session, ctx, [item for _, item in pending])):
            outcomes[position] = outcome
        pending.clear()

    for position, item in enumerate(decided):
        if isinstance(item, ItemOutcome):
            outcomes.append(item)
        elif item.external_id in repeated or (item.external_id in existing and not _is_unchanged(ctx, existing[item.external_id], item)):
            await write_pending()
            outcomes.append(await _upsert_in_savepoint(session, ctx, item))
        elif item.external_id in existing:
            outcomes.append(ItemOutcome("unchanged", 200, record_id=existing[item.external_id].id))
        else:
            pending.append((position, item))
            outcomes.append(None)
    await write_pending()
    return outcomes


async def _insert_new(session: AsyncSession, ctx: ProfilesContext, items: list[CustomerUpsert]) -> list[ItemOutcome]:
    """New customers together, with their search rows and events; each decided as _insert_customer
    would have, one after the other (an email an earlier item took is taken)."""
    if not items:
        return []
    prepared = [_normalised_or_problem(ctx, item) for item in items]
    owners = await _contact_owners(session, ctx, [fields for fields in prepared if isinstance(fields, dict)])
    now = utcnow()
    outcomes, rows, tokens, tags, events = [], [], [], [], []
    for item, fields in zip(items, prepared):
        if isinstance(fields, ItemOutcome):
            outcomes.append(fields)
            continue
        digests = _contact_digests(ctx, fields)
        taken = next((key for key in digests if key in owners), None)
        if taken is not None:
            outcomes.append(problem_outcome(Problem(409, "Duplicate customer", f"another customer already has this {taken[0]}",
                                                    field=taken[0], existing_id=owners[taken])))
            continue
        row = _new_customer_row(ctx, fields, item.external_id, now)
        owners |= dict.fromkeys(digests, row["id"])
        rows.append(row)
        tokens += _name_token_rows(ctx, row["id"], fields["name"])
        tags += _tag_rows(row["id"], row["tags"])
        events.append(ctx.event(_created_event(fields, customer_id=row["id"], external_id=row["external_id"], tags=row["tags"],
                                               consent=row["consent"], created_at=row["created_at"])))
        outcomes.append(ItemOutcome("created", 201, record_id=row["id"]))
    await insert_rows(session, Customer.__table__, rows)
    await insert_rows(session, NameToken.__table__, tokens)
    await insert_rows(session, CustomerTag.__table__, tags)
    await add_events(session, events)
    return outcomes


def _normalised_or_problem(ctx: ProfilesContext, item: CustomerUpsert) -> dict | ItemOutcome:
    try:
        return normalised_contact(ctx, _fields_of(item, only_sent=False))
    except Problem as problem:
        return problem_outcome(problem)


def _contact_digests(ctx: ProfilesContext, fields: dict) -> list[tuple[str, str]]:
    """(field, digest) of the email and phone given, email first, as _assert_contact_free checks them."""
    return [(name, ctx.index.digest(name, fields[name])) for name in ("email", "phone") if fields.get(name) is not None]


async def _contact_owners(session: AsyncSession, ctx: ProfilesContext, many_fields: list[dict]) -> dict[tuple[str, str], str]:
    """Which customer already has each email and phone of `many_fields`: (field, digest) to id."""
    owners = {}
    for name in ("email", "phone"):
        column = getattr(Customer, f"{name}_hash")
        digests = [digest for fields in many_fields for field, digest in _contact_digests(ctx, fields) if field == name]
        for condition in any_of(session, column, digests):
            found = await session.execute(sa.select(Customer.id, column).where(condition))
            owners |= {(name, digest): customer_id for customer_id, digest in found}
    return owners


def _new_customer_row(ctx: ProfilesContext, fields: dict, external_id: str, now: datetime) -> dict:
    return {
        "id": new_id(), "external_id": external_id, "status": "active", "merged_into": None, "version": 1,
        "created_at": now, "updated_at": now, "erased_at": None, **_column_values(ctx, fields),
    }


def _created_event(fields: dict, *, customer_id: str, external_id: str | None, tags: list[str], consent: dict,
                   created_at: datetime) -> CustomerCreated:
    """The event of a new customer: counts and flags of its personal data, never the data."""
    return CustomerCreated(
        customer_id=customer_id, external_id=external_id, tag_count=len(tags), has_email=bool(fields.get("email")),
        has_phone=bool(fields.get("phone")), consent=consent, created_at=created_at,
    )


async def _locked_by_external_id(session: AsyncSession, external_ids: list[str]) -> dict[str, Customer]:
    found = {}
    for condition in any_of(session, Customer.external_id, external_ids):
        query = sa.select(Customer).where(condition).with_for_update().execution_options(populate_existing=True)
        found |= {customer.external_id: customer for customer in await session.scalars(query)}
    return found


def _is_unchanged(ctx: ProfilesContext, customer: Customer, data: CustomerUpsert) -> bool:
    """What update_customer would call unchanged; anything else (an error included) is decided there."""
    if customer.status != "active":
        return False
    try:
        fields = normalised_contact(ctx, _fields_of(data, only_sent=True))
    except Problem:
        return False
    before = current_fields(ctx, customer)
    return all(before[name] == _or_empty(name, value) for name, value in fields.items())


async def _upsert_in_savepoint(session: AsyncSession, ctx: ProfilesContext, data: CustomerUpsert) -> ItemOutcome:
    """A savepoint per item; an item that lost a race to a concurrent writer is decided again, seeing the winner."""
    for _ in range(2):
        try:
            async with session.begin_nested():
                return await _upsert_one(session, ctx, data)
        except Problem as problem:
            return problem_outcome(problem)
        except IntegrityError:
            continue
    return error_outcome(409, "Conflict", "conflicts with another item or customer", "external_id")


async def _upsert_one(session: AsyncSession, ctx: ProfilesContext, data: CustomerUpsert) -> ItemOutcome:
    query = sa.select(Customer).where(Customer.external_id == data.external_id)
    existing = await session.scalar(query.with_for_update().execution_options(populate_existing=True))
    if existing is None:
        # Not create_customer: a row that appeared since the lookup must fail the insert, so that
        # the item is decided again as an update (see _upsert_in_savepoint).
        customer = await _insert_customer(session, ctx, normalised_contact(ctx, _fields_of(data, only_sent=False)), data.external_id)
        return ItemOutcome("created", 201, record_id=customer.id)
    changed = await update_customer(session, ctx, existing, data)
    return ItemOutcome("updated" if changed else "unchanged", 200, record_id=existing.id)
