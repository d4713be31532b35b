"""The frozen first migration builds exactly the tables that models.py describes."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.common.database import COMMON_MIGRATIONS, Database
from services.feedback import models
from services.feedback.app import SPEC


async def test_the_frozen_migration_builds_the_tables_the_models_describe(tmp_path, database_url):
    database = Database(database_url or f"sqlite+aiosqlite:///{tmp_path}/feedback.db", migrations=[COMMON_MIGRATIONS / "versions", SPEC.migrations])
    await database.migrate()
    async with database.engine.connect() as connection:
        differences = await connection.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), models.metadata))
    await database.dispose()
    # The delivery tables (outbox, inbox, timers, ...) and their indexes are common's, not in these models.
    assert [d for d in differences if _table_of(d) in models.metadata.tables] == []


def _table_of(difference) -> str | None:
    if isinstance(difference, list):  # column changes: [("modify_type", schema, table, column, ...)]
        return difference[0][2]
    if difference[0] in ("add_column", "remove_column"):  # (kind, schema, table, column)
        return difference[2]
    subject = difference[1]  # a table, an index or a constraint
    return getattr(getattr(subject, "table", subject), "name", None)
