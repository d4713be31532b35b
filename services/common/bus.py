"""The bus port and its in-process adapter; `kafka_bus.py` is the Kafka adapter.

Both keep the same promise: `publish` returns only when the messages are safe (Kafka acknowledged
them, or every consumer group of the deployment committed them), and a subscriber's batch handler
raising means "not committed, deliver again".

The in-process bus has no log of its own to keep messages for a group that is not there yet, so
the groups of the deployment are *registered* when they are built, before any relay runs (a
consumer registers in its constructor, see `consumers.EventConsumer`). `publish` waits until every
registered group that wants a message has subscribed and committed it; only then does the relay
mark the outbox row sent. So a group that subscribes late still receives every event written
before, a failing group holds the rows (the outbox keeps them), and a crash before the mark means
the rows go again to every group, whose inboxes drop what they already committed.
"""

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from services.common.events import Message

BatchHandler = Callable[[list[Message]], Awaitable[None]]


class Bus(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def publish(self, messages: list[Message]) -> None: ...
    def register(self, group: str, topics: list[str]) -> None: ...
    def subscribe(self, group: str, topics: list[str], handler: BatchHandler, metrics=None) -> None: ...
    def health(self) -> dict[str, str]: ...  # readiness checks of the bus, e.g. {"kafka_topics": "ok"}


@dataclass
class _Group:
    name: str
    topics: frozenset[str]
    handler: BatchHandler | None = None
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    # One batch at a time per group, as one partition is consumed by one member at a time.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class InProcessBus:
    """Delivers to every registered consumer group, waiting for those that have not subscribed yet."""

    def __init__(self) -> None:
        self._groups: dict[str, _Group] = {}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def register(self, group: str, topics: list[str]) -> None:
        """Declares a consumer group of this deployment: from now on nothing on its topics counts
        as delivered until the group committed it."""
        known = self._groups.get(group)
        if known is None:
            self._groups[group] = _Group(group, frozenset(topics))
        else:
            known.topics = known.topics | frozenset(topics)

    def health(self) -> dict[str, str]:
        return {}

    def subscribe(self, group: str, topics: list[str], handler: BatchHandler, metrics=None) -> None:
        self.register(group, topics)
        self._groups[group].handler = handler
        self._groups[group].subscribed.set()

    async def publish(self, messages: list[Message]) -> None:
        for group in list(self._groups.values()):
            wanted = [message for message in messages if message.topic in group.topics]
            if not wanted:
                continue
            await group.subscribed.wait()
            async with group.lock:
                for batch in _per_key_order(wanted):
                    await group.handler(batch)


def _per_key_order(messages: list[Message]) -> list[list[Message]]:
    """One batch per topic, in publish order, which keeps every key's order."""
    by_topic: dict[str, list[Message]] = defaultdict(list)
    for message in messages:
        by_topic[message.topic].append(message)
    return list(by_topic.values())
