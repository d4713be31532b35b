"""The stack's public APIs as the demo uses them: one httpx client per service, a bound on requests in
flight, a retry on a busy answer (429, 503) or a dropped connection, and a one-line error otherwise."""

import asyncio
from collections.abc import Mapping

import httpx

RETRIED_STATUSES = {429, 502, 503, 504}
TRIES = 6


class DemoError(Exception):
    """A refusal the demo cannot go on from; its message is one line for the operator."""


class PulseApi:
    def __init__(self, clients: Mapping[str, httpx.AsyncClient], api_key: str, *, concurrency: int = 8):
        self.clients = clients
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.slots = asyncio.Semaphore(concurrency)

    async def call(self, service: str, method: str, path: str, *, json=None, params=None, headers=None,
                   ok: tuple[int, ...] = (200, 201), auth: bool = True, keyed: bool = False, timeout: float | None = None) -> httpx.Response:
        """`keyed`: the call carries its own key (external_id, order_id, refund_id), so sending it again
        after a server error or a lost answer cannot write twice; reads are retried after those too.
        Any call is retried when the request never left (no connection)."""
        sent = {**(self.headers if auth else {}), **(headers or {})}
        repeatable = method == "GET" or keyed
        extra = {"timeout": timeout} if timeout is not None else {}
        for attempt in range(TRIES):
            try:
                async with self.slots:
                    response = await self.clients[service].request(method, path, json=json, params=params, headers=sent, **extra)
            except httpx.TransportError as error:
                never_sent = isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
                if attempt == TRIES - 1 or not (never_sent or repeatable):
                    raise DemoError(f"{service} {method} {path}: {type(error).__name__} ({error})") from None
            else:
                if response.status_code in ok:
                    return response
                # An embedded stack under load may answer 500 when SQLite stays locked past its busy timeout.
                retried = RETRIED_STATUSES | ({500} if repeatable else set())
                if response.status_code not in retried or attempt == TRIES - 1:
                    raise DemoError(f"{service} {method} {path}: {response.status_code} {_problem(response)}")
            await asyncio.sleep(0.5 * 2 ** attempt)
        raise AssertionError("unreachable")

    async def json(self, service: str, method: str, path: str, **options):
        return (await self.call(service, method, path, **options)).json()

    async def readiness(self, service: str) -> int | None:
        """/readyz's status; None when nothing answers there."""
        try:
            return (await self.clients[service].get("/readyz")).status_code
        except httpx.TransportError:
            return None

    async def all_pages(self, service: str, path: str, params: dict, *, most: int = 100_000) -> list[dict]:
        items, cursor = [], None
        while len(items) < most:
            page = await self.json(service, "GET", path, params={**params, "limit": 200, **({"cursor": cursor} if cursor else {})})
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        return items


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        fields = [e.get("field") for e in body.get("errors") or []] or [body.get("field")]
        named = f" (field {', '.join(f for f in fields if f)})" if any(fields) else ""
        return f"{body.get('title', '')}: {body.get('detail', '')}{named}".strip()
    return str(body)[:200]


def clients_for(urls: Mapping[str, str], timeout: float = 120.0) -> dict[str, httpx.AsyncClient]:
    return {service: httpx.AsyncClient(base_url=url, timeout=timeout) for service, url in urls.items()}
