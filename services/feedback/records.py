"""Reading one row by id, the same way for every table of the service."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import Problem


async def one_or_404(session: AsyncSession, table: sa.Table, row_id: str, *, what: str, field: str, for_update: bool = False, **equal):
    """The row with this id (and these column values), or a 404 that names what was missing."""
    query = sa.select(table).where(table.c.id == row_id, *(table.c[name] == value for name, value in equal.items()))
    row = (await session.execute(query.with_for_update() if for_update else query)).first()
    if row is None:
        raise Problem(404, "Not found", f"{what} '{row_id}' does not exist", field=field)
    return row
