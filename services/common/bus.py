"""The bus port and its in-process adapter; `kafka_bus.py` is the Kafka adapter.

Both keep the same promise: `publish` returns only when the messages are safe (Kafka acknowledged
them, or every in-process subscriber committed them), and a subscriber's batch handler raising
means "not committed, deliver again".
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
    def subscribe(self, group: str, topics: list[str], handler: BatchHandler, metrics=None) -> None: ...
    def health(self) -> dict[str, str]: ...  # readiness checks of the bus, e.g. {"kafka_topics": "ok"}


@dataclass
class _Subscription:
    group: str
    topics: frozenset[str]
    handler: BatchHandler
    # One batch at a time per group, as one partition is consumed by one member at a time.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class InProcessBus:
    """Delivers synchronously to every subscriber group; nothing is buffered, so nothing is lost."""

    def __init__(self) -> None:
        self._subscriptions: list[_Subscription] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def health(self) -> dict[str, str]:
        return {}

    def subscribe(self, group: str, topics: list[str], handler: BatchHandler, metrics=None) -> None:
        self._subscriptions.append(_Subscription(group, frozenset(topics), handler))

    async def publish(self, messages: list[Message]) -> None:
        for subscription in self._subscriptions:
            wanted = [message for message in messages if message.topic in subscription.topics]
            if not wanted:
                continue
            async with subscription.lock:
                for batch in _per_key_order(wanted):
                    await subscription.handler(batch)


def _per_key_order(messages: list[Message]) -> list[list[Message]]:
    """One batch per topic, in publish order, which keeps every key's order."""
    by_topic: dict[str, list[Message]] = defaultdict(list)
    for message in messages:
        by_topic[message.topic].append(message)
    return list(by_topic.values())
