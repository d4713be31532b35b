"""Calendars and SLA policies as stored versions, and the SLA context they make together."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import Problem
from services.feedback.complaints.sla_state import SlaContext
from services.feedback.context import FeedbackContext
from services.feedback.models import calendars, policy_sets
from services.feedback.sla.calendars import BusinessCalendar, CalendarError, builtin_calendars, calendar_from_dict
from services.feedback.sla.policies import PolicyError, PolicySet

HOUR = 3600
# In force until a manager stores the first policy set (version 0): every priority gets targets,
# so no complaint is ever without an SLA.
DEFAULT_POLICIES = {
    "version": 0,
    "default_priority": "normal",
    "policies": [{
        "id": "default", "position": 0, "default": True,
        "targets": {
            "first_response": {p: {"seconds": s * HOUR, "calendar": "24x7"} for p, s in (("urgent", 1), ("high", 4), ("normal", 8), ("low", 24))},
            "resolution": {p: {"seconds": s * HOUR, "calendar": "24x7"} for p, s in (("urgent", 8), ("high", 24), ("normal", 72), ("low", 120))},
        },
    }],
}


def invalid(detail: str, field: str = "body") -> Problem:
    return Problem(422, "Validation failed", detail, field=field)


async def stored_calendar(session: AsyncSession, name: str) -> dict | None:
    row = (await session.execute(
        sa.select(calendars.c.definition).where(calendars.c.name == name).order_by(calendars.c.version.desc()).limit(1)
    )).first()
    if row is not None:
        return row.definition
    builtin = builtin_calendars().get(name)
    return builtin.to_dict() if builtin else None


async def stored_policies(session: AsyncSession) -> dict:
    row = (await session.execute(sa.select(policy_sets.c.definition).order_by(policy_sets.c.version.desc()).limit(1))).first()
    return row.definition if row is not None else DEFAULT_POLICIES


async def sla_context(session: AsyncSession, ctx: FeedbackContext) -> SlaContext:
    """The calendars and policies in force, parsed once per combination of versions (and looked
    up once per session: a request reads them for its change and again for its answer)."""
    if "sla_context" not in session.info:
        session.info["sla_context"] = await _in_force(session, ctx)
    return session.info["sla_context"]


async def _in_force(session: AsyncSession, ctx: FeedbackContext) -> SlaContext:
    calendar_versions = tuple((await session.execute(
        sa.select(calendars.c.name, sa.func.max(calendars.c.version)).group_by(calendars.c.name).order_by(calendars.c.name)
    )).all())
    policy_version = await session.scalar(sa.select(sa.func.max(policy_sets.c.version))) or 0
    key = (policy_version, tuple(map(tuple, calendar_versions)))
    if key not in ctx.sla_versions:
        ctx.sla_versions[key] = await _load(session, calendar_versions)
    return ctx.sla_versions[key]


async def _load(session: AsyncSession, calendar_versions) -> SlaContext:
    found = builtin_calendars()
    for name, version in calendar_versions:
        definition = await session.scalar(
            sa.select(calendars.c.definition).where(calendars.c.name == name, calendars.c.version == version)
        )
        found[name] = calendar_from_dict(definition)
    return SlaContext(policies=PolicySet.from_dict(await stored_policies(session)), calendars=found)


def parse_calendar(name: str, version: int, body: dict) -> BusinessCalendar:
    try:
        return calendar_from_dict({**body, "name": name, "version": version})
    except (CalendarError, KeyError, TypeError, ValueError) as error:
        raise invalid(_reason(error)) from error


def parse_policies(version: int, body: dict) -> PolicySet:
    body = {**body, "version": version, "policies": [{**p, "version": version} for p in body.get("policies", [])]}
    try:
        return PolicySet.from_dict(body)
    except (PolicyError, KeyError, TypeError, ValueError) as error:
        raise invalid(_reason(error), "policies") from error


def check_clocks_can_end(policies: PolicySet, found: dict[str, BusinessCalendar], now: datetime,
                         changed: BusinessCalendar | None = None) -> None:
    """Every target must be reachable on its calendar from now: a calendar that is missing, has no
    open time or is not verified for the years ahead would leave a clock that never ends."""
    if changed is not None:
        try:
            changed.add_business_time(now, 1)
        except CalendarError as error:
            raise invalid(f"calendar {changed.name!r} would never let a clock end: {error}") from error
    for policy in policies.policies:
        for (metric, priority), target in policy.targets.items():
            where = f"policy {policy.id!r} {metric}/{priority}"
            calendar = found.get(target.calendar)
            if calendar is None:
                raise invalid(f"{where} uses calendar {target.calendar!r}, which does not exist: its clock could never end", "policies")
            try:
                calendar.add_business_time(now, target.seconds)
            except CalendarError as error:
                raise invalid(f"{where}: its clock could never end on calendar {target.calendar!r}: {error}", "policies") from error


async def next_calendar_version(session: AsyncSession, name: str) -> int:
    current = await session.scalar(sa.select(sa.func.max(calendars.c.version)).where(calendars.c.name == name))
    builtin = builtin_calendars().get(name)
    return (current or (builtin.version if builtin else 0)) + 1


async def next_policy_version(session: AsyncSession) -> int:
    return (await session.scalar(sa.select(sa.func.max(policy_sets.c.version))) or 0) + 1


async def store_calendar(session: AsyncSession, calendar: BusinessCalendar, *, actor: str, now: datetime) -> None:
    await _store_version(session, sa.insert(calendars).values(
        name=calendar.name, version=calendar.version, definition=calendar.to_dict(), created_by=actor, created_at=now,
    ), f"calendar {calendar.name!r}")


async def store_policies(session: AsyncSession, policies: PolicySet, *, actor: str, now: datetime) -> None:
    await _store_version(session, sa.insert(policy_sets).values(
        version=policies.version, definition=policies.to_dict(), created_by=actor, created_at=now,
    ), "the policy set")


async def _store_version(session: AsyncSession, insert, what: str) -> None:
    try:
        async with session.begin_nested():
            await session.execute(insert)
    except IntegrityError as error:  # another manager stored the same version number a moment ago
        raise Problem(409, "Conflict", f"{what} changed while this version was prepared; read it again and retry") from error
    session.info.pop("sla_context", None)


def _reason(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"{error.args[0]!r} is required"
    return str(error)
