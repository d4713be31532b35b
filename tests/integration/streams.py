"""Purchases streamed at a service in batches while a test kills it: what was acknowledged is known."""

import asyncio

import httpx


async def stream_batches(url: str, key: str, customer_id: str, acknowledged: set[str], stop: asyncio.Event, *,
                         worker: int, batch: int) -> None:
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
        batch_number = 0
        while not stop.is_set():
            items = [{"order_id": f"w{worker}-b{batch_number}-{n}", "customer_id": customer_id, "amount": "9.90",
                      "occurred_at": "2026-07-01T12:00:00+08:00"} for n in range(batch)]
            batch_number += 1
            try:
                response = await client.post("/v1/purchases:batch", json={"items": items})
            except httpx.HTTPError:
                return  # the process died under us: this batch was never acknowledged
            if response.status_code == 200:
                acknowledged.update(item["order_id"] for item, result in zip(items, response.json()["results"])
                                    if result["status"] == "created")


class PurchaseStream:
    """A new customer, and two writers streaming batches of purchases for them until stopped."""

    def __init__(self, url: str, key: str, *, batch: int, name: str = "孙悟空"):
        self.url, self.key, self.batch, self.name = url, key, batch, name
        self.acknowledged: set[str] = set()
        self.customer_id: str | None = None
        self._stop = asyncio.Event()
        self._writers: list[asyncio.Task] = []

    async def start(self) -> "PurchaseStream":
        async with httpx.AsyncClient(base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}) as client:
            self.customer_id = (await client.post("/v1/customers", json={"name": self.name})).json()["id"]
        self._writers = [asyncio.create_task(stream_batches(self.url, self.key, self.customer_id, self.acknowledged, self._stop,
                                                            worker=worker, batch=self.batch)) for worker in range(2)]
        return self

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._writers)


async def at_least(collection, size: int) -> bool:
    return len(collection) >= size
