"""Migrations are frozen, and they build exactly the schema that today's models describe.

Each entry below is one database kind: its migration folders and the tables its models define.
A service whose migrations arrive adds one line to SCHEMAS."""

from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.common import auth, delivery_tables
from services.common.bootstrap import AUTH_MIGRATIONS
from services.common.database import COMMON_MIGRATIONS, Database
from services.profiles.app import SPEC as PROFILES
from services.profiles.models import PROFILE_TABLES

COMMON = COMMON_MIGRATIONS / "versions"


@dataclass(frozen=True)
class Schema:
    name: str
    migrations: list[Path]
    tables: list[sa.Table]


SCHEMAS = [
    Schema("auth", [AUTH_MIGRATIONS], list(auth.metadata.tables.values())),
    Schema("common", [COMMON], list(delivery_tables.metadata.tables.values())),
    Schema("profiles", [COMMON, PROFILES.migrations], [*delivery_tables.metadata.tables.values(), *PROFILE_TABLES]),
]


def _metadata(tables: list[sa.Table]) -> sa.MetaData:
    metadata = sa.MetaData()
    for table in tables:
        table.to_metadata(metadata)
    return metadata


def _differences(connection, metadata: sa.MetaData) -> list:
    context = MigrationContext.configure(connection, opts={
        "compare_type": True, "compare_server_default": True,
        "include_name": lambda name, kind, _parents: not (kind == "table" and name == "alembic_version"),
    })
    return compare_metadata(context, metadata)


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda schema: schema.name)
async def test_migrated_schema_matches_the_models(schema, database_url, tmp_path):
    url = database_url or f"sqlite+aiosqlite:///{tmp_path / schema.name}.db"
    database = Database(url, migrations=schema.migrations)
    try:
        await database.migrate()
        async with database.engine.connect() as connection:
            differences = await connection.run_sync(_differences, _metadata(schema.tables))
    finally:
        await database.dispose()
    assert differences == []


def test_revisions_do_not_build_tables_from_todays_models():
    for schema in SCHEMAS:
        for folder in schema.migrations:
            for revision in folder.glob("*.py"):
                text = revision.read_text()
                for sign in ("create_all", ".create(op", "metadata", "__table__", "_TABLES"):
                    assert sign not in text, f"{revision.name} builds tables from today's models ({sign}); spell them out"
