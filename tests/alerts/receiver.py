"""A local HTTP receiver on 127.0.0.1 that records what it is sent and answers as told."""

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import uvicorn


@dataclass
class Received:
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    # (request) -> (status, json body); the default accepts everything.
    answer: Callable[[Received], tuple[int, bytes]] = lambda _request: (200, b'{"errcode":0,"errmsg":"ok","code":0}')
    in_flight: int = 0
    most_in_flight: int = 0  # requests being received at the same time, at most

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self._answer(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _answer(self, scope, receive, send):
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = Received(path=scope["path"], query=scope["query_string"].decode(),
                           headers={k.decode(): v.decode() for k, v in scope["headers"]}, body=body, at=time.monotonic())
        self.requests.append(request)
        status, answer = self.answer(request)
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": answer})


@contextlib.asynccontextmanager
async def local_receiver() -> AsyncIterator[Receiver]:
    # Saying TCP lets asyncio turn Nagle off for the connections (else ~40 ms a request, delayed ACKs).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    receiver = Receiver(url=f"http://127.0.0.1:{sock.getsockname()[1]}")
    server = uvicorn.Server(uvicorn.Config(receiver, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task
        sock.close()
