"""ASGI middleware every service runs: request ids, access log, HTTP metrics, body size limit, and the
500 answer to an unexpected error (here, inside the CORS layer, so a browser page can read it too)."""

import json
import logging
import time
import uuid

from services.common.errors import PROBLEM_JSON, database_busy, log_unexpected, problem_body
from services.common.observability import ServiceMetrics, request_id_var

log = logging.getLogger("pulse.access")

# A database that was busy (SQLite's write lock held past its wait, a full pool) is soon free again.
BUSY_RETRY_AFTER_SECONDS = 2


class BodyTooLarge(Exception):
    pass


class ServiceMiddleware:
    def __init__(self, app, *, metrics: ServiceMetrics, max_body_bytes: int):
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        request_id = _safe_request_id(headers.get(b"x-request-id"))
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status_holder = {"status": 500, "started": False}

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                message["headers"] = list(message.get("headers", [])) + [(b"x-request-id", request_id.encode())]
            await send(message)

        try:
            declared = headers.get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
                await self._too_large(scope, send_with_id)
            else:
                await self.app(scope, self._limited(receive), send_with_id)
        except BodyTooLarge:
            if not status_holder["started"]:
                await self._too_large(scope, send_with_id)
        except Exception as error:
            if status_holder["started"]:
                raise
            await self._answer(send_with_id, *self._failure(scope, error))
        finally:
            self._observe(scope, status_holder["status"], time.perf_counter() - started)
            request_id_var.reset(token)

    def _limited(self, receive):
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge()
            return message

        return limited_receive

    async def _too_large(self, scope, send):
        await self._answer(send, problem_body(413, "Content Too Large", f"the request body exceeds {self.max_body_bytes} bytes", scope["path"]))

    @staticmethod
    def _failure(scope, error: Exception) -> tuple[dict, list]:
        if database_busy(error):
            log.warning("database busy: %s", type(error).__name__)
            body = problem_body(503, "Service Unavailable", "The database is busy; try again in a moment.", scope["path"])
            return body, [(b"retry-after", str(BUSY_RETRY_AFTER_SECONDS).encode())]
        log_unexpected(scope, error)
        return problem_body(500, "Internal Server Error", "An unexpected error occurred; it has been logged.", scope["path"]), []

    @staticmethod
    async def _answer(send, body: dict, extra_headers: list | None = None) -> None:
        payload = json.dumps(body).encode()
        headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": body["status"], "headers": headers + (extra_headers or [])})
        await send({"type": "http.response.body", "body": payload})

    def _observe(self, scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        method = scope["method"]
        self.metrics.http_requests.labels(self.metrics.service, method, route, str(status)).inc()
        self.metrics.http_latency.labels(self.metrics.service, method, route).observe(seconds)
        log.info("%s %s %d", method, route, status, extra={
            "service": self.metrics.service, "method": method, "route": route, "status": status,
            "duration_ms": round(seconds * 1000, 2),
        })


def _safe_request_id(raw: bytes | None) -> str:
    if raw:
        candidate = raw.decode("latin-1")[:64]
        if candidate.replace("-", "").replace("_", "").isalnum():
            return candidate
    return uuid.uuid4().hex
