"""The frozen first revision creates exactly the tables the code uses."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.common.database import COMMON_MIGRATIONS, Database
from services.scoring import models

MIGRATIONS = Path(models.__file__).parent / "migrations"


def _differences(connection):
    context = MigrationContext.configure(connection, opts={"compare_type": False})
    return [
        diff for diff in compare_metadata(context, models.metadata)
        if not (diff[0] == "remove_table" and not diff[1].name.startswith("scoring_"))
        and not (diff[0] == "remove_index" and not diff[1].table.name.startswith("scoring_"))
    ]


async def test_the_migration_creates_the_tables_of_the_models(tmp_path, database_url):
    url = database_url or f"sqlite+aiosqlite:///{tmp_path / 'scoring.db'}"
    database = Database(url, migrations=[COMMON_MIGRATIONS / "versions", MIGRATIONS])
    try:
        await database.migrate()
        async with database.engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await database.dispose()
    assert differences == []
