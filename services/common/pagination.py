"""Opaque cursor pages over (created_at, id), stable while rows are added."""

import base64
import json
from datetime import datetime
from typing import Annotated, Generic, TypeVar

import sqlalchemy as sa
from fastapi import Query
from pydantic import BaseModel

from services.common.errors import Problem

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Cursor = Annotated[str | None, Query(max_length=500)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(created_at: datetime, row_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(created_at), str(row_id)
    except (ValueError, TypeError) as error:
        raise Problem(400, "Invalid cursor", "cursor is not one this API returned", field="cursor") from error


async def keyset_page(session, query, *, time_column, id_column, cursor: str | None, limit: int, rows: bool = False) -> tuple[list, str | None]:
    """Rows of `query` after the cursor, ordered by (time, id), and the cursor of the next page.

    ORM entities by default; `rows=True` for a Core select of a table's columns."""
    if cursor:
        moment, last_id = decode_cursor(cursor)
        query = query.where(sa.or_(time_column > moment, sa.and_(time_column == moment, id_column > last_id)))
    query = query.order_by(time_column, id_column).limit(limit + 1)
    found = list((await (session.execute(query) if rows else session.scalars(query))).all())
    if len(found) <= limit:
        return found, None
    last = found[limit - 1]
    return found[:limit], encode_cursor(getattr(last, time_column.key), getattr(last, id_column.key))
