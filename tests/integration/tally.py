"""A downstream consumer for delivery tests: counts each purchase in its own database, through
the platform's consumer runner (inbox included), so "exactly once" is measured where it matters."""

import sqlalchemy as sa

from services.common.bus import Bus
from services.common.consumers import Delivery, EventConsumer
from services.common.database import COMMON_MIGRATIONS, Database
from services.common.kafka_bus import KafkaBus
from services.common.observability import ServiceMetrics
from services.common.settings import Topics

metadata = sa.MetaData()
tally = sa.Table(
    "purchase_tally", metadata,
    sa.Column("order_id", sa.String(200), primary_key=True),
    sa.Column("times", sa.Integer, nullable=False),
)


async def count_purchase(delivery: Delivery, payload) -> None:
    session = delivery.session
    updated = await session.execute(sa.update(tally).where(tally.c.order_id == payload.order_id).values(times=tally.c.times + 1))
    if updated.rowcount == 0:
        await session.execute(sa.insert(tally).values(order_id=payload.order_id, times=1))


class Tally:
    def __init__(self, database_url: str, bootstrap: str = "", group: str = "tally", bus: Bus | None = None,
                 topics: Topics | None = None, backoff_max_seconds: float = 300.0):
        """On Kafka (`bootstrap`) by default; or on a given bus, e.g. the embedded stack's in-process one."""
        self.database = Database(database_url, migrations=[COMMON_MIGRATIONS / "versions"])
        self.bus = bus or KafkaBus(bootstrap=bootstrap, client_id=group, retry_seconds=0.5)
        self.consumer = EventConsumer(
            name=group, handlers={"pulse.purchase.recorded.v1": count_purchase}, database=self.database, bus=self.bus,
            topics=topics or Topics(), metrics=ServiceMetrics(group), retry_base_seconds=0.05,
            backoff_max_seconds=backoff_max_seconds,
        )

    async def start(self) -> None:
        await self.prepare()
        self.consumer.attach()
        await self.bus.start()

    async def prepare(self) -> None:
        """The database only; `consumer.attach()` subscribes later."""
        await self.database.migrate()
        async with self.database.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)

    async def stop(self) -> None:
        await self.bus.stop()
        await self.database.dispose()

    async def counts(self) -> dict[str, int]:
        async with self.database.sessions() as session:
            return dict((await session.execute(sa.select(tally.c.order_id, tally.c.times))).all())
