"""JSON columns take what the services put in them, numpy's numbers included (the models compute with numpy)."""

import numpy as np
import sqlalchemy as sa

from services.common.database import Database

documents = sa.MetaData()
document = sa.Table("document", documents, sa.Column("id", sa.Integer, primary_key=True), sa.Column("body", sa.JSON))


async def test_numpy_numbers_are_stored_as_plain_json_numbers(tmp_path, database_url):
    database = Database(database_url or f"sqlite+aiosqlite:///{tmp_path / 'json.db'}", migrations=[])
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(documents.create_all)
        body = {"r": np.float64(0.25), "n": np.int64(3), "values": np.array([1.5, 2.0]), "plain": 1}
        async with database.transaction() as session:
            await session.execute(sa.insert(document).values(id=1, body=body))
        async with database.sessions() as session:
            assert await session.scalar(sa.select(document.c.body)) == {"r": 0.25, "n": 3, "values": [1.5, 2.0], "plain": 1}
    finally:
        await database.dispose()
