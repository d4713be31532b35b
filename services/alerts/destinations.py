"""Webhook destinations checked where the addresses are known: when an endpoint is created (its
host resolved once), and on every connection a delivery opens, to the very address it connects
to, so a name that resolves elsewhere later (DNS changed, or rebinding) is refused then."""

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import httpcore
import httpx

from services.alerts.webhooks.addresses import refusal

LOOKUP_SECONDS = 5.0
Resolver = Callable[[str, int], Awaitable[list[str]]]


class DestinationRefused(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


async def resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.wait_for(asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM),
                                   timeout=LOOKUP_SECONDS)
    return list(dict.fromkeys(info[4][0] for info in infos))


def check_addresses(addresses: list[str], *, block_private: bool) -> None:
    for address in addresses:
        reason = refusal(address, block_private=block_private)
        if reason is not None:
            raise DestinationRefused(reason)


async def check_url(url: str, *, block_private: bool, resolver: Resolver = resolve) -> None:
    """At creation: a name that does not resolve yet is let through (each delivery checks again)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").strip("[]")
    try:
        addresses = await resolver(host, parts.port or 443)
    except (OSError, TimeoutError):
        return
    check_addresses(addresses, block_private=block_private)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves each host itself, checks every address, and connects to a checked one (TLS still
    names the host): what was checked is what is connected to."""

    def __init__(self, *, block_private: bool, resolver: Resolver = resolve):
        self.block_private = block_private
        self.resolver = resolver
        self.inner = httpcore.AnyIOBackend()  # what httpcore picks under asyncio

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options=None) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self.resolver(host, port)
        except (OSError, TimeoutError) as error:
            raise httpcore.ConnectError(f"{type(error).__name__} resolving the host") from error
        check_addresses(addresses, block_private=self.block_private)
        return await self.inner.connect_tcp(addresses[0], port, timeout=timeout, local_address=local_address,
                                            socket_options=socket_options)

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def guarded_transport(*, block_private: bool, tls: ssl.SSLContext, resolver: Resolver = resolve) -> httpx.AsyncHTTPTransport:
    transport = httpx.AsyncHTTPTransport(verify=tls)
    # httpx has no public way to pass httpcore a network backend; the pool reads this per connection.
    transport._pool._network_backend = GuardedBackend(block_private=block_private, resolver=resolver)
    return transport
