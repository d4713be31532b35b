"""Metrics (one Prometheus registry per service) and JSON logs with request ids.

Logs carry ids, routes and numbers only: never a request body, a query string, a header value or
an error's message, since those hold personal data.
"""

import atexit
import contextvars
import json
import logging
import queue
import sys
import time
import traceback
from logging.handlers import QueueHandler, QueueListener

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class ServiceMetrics:
    def __init__(self, service: str):
        self.service = service
        self.registry = CollectorRegistry()
        registry = self.registry
        self.http_requests = Counter(
            "pulse_http_requests_total", "HTTP requests answered", ["service", "method", "route", "status"], registry=registry
        )
        self.http_latency = Histogram(
            "pulse_http_request_duration_seconds", "HTTP request duration", ["service", "method", "route"],
            buckets=LATENCY_BUCKETS, registry=registry,
        )
        self.events_published = Counter(
            "pulse_events_published_total", "Events the outbox relay handed to the bus", ["service", "topic"], registry=registry
        )
        self.events_consumed = Counter(
            "pulse_events_consumed_total", "Events a consumer finished, by outcome",
            ["service", "consumer", "topic", "outcome"], registry=registry,
        )
        self.dead_letters = Counter(
            "pulse_dlq_messages_total", "Messages a consumer gave up on", ["service", "consumer", "topic"], registry=registry
        )
        self.outbox_backlog = Gauge("pulse_outbox_backlog", "Outbox rows not yet on the bus", ["service"], registry=registry)
        self.outbox_oldest_age = Gauge(
            "pulse_outbox_oldest_unsent_seconds", "Age of the oldest unsent outbox row", ["service"], registry=registry
        )
        self.consumer_lag = Gauge(
            "pulse_consumer_lag", "Messages behind the partition's end", ["service", "consumer", "topic", "partition"],
            registry=registry,
        )
        self.timers_fired = Counter("pulse_timers_fired_total", "Durable timers fired", ["service", "kind"], registry=registry)
        self.timer_delay = Histogram(
            "pulse_timer_delay_seconds", "How late a timer fired after its due time", ["service", "kind"],
            buckets=LATENCY_BUCKETS, registry=registry,
        )


class JsonLogFormatter(logging.Formatter):
    FIELDS = ("service", "event_id", "event_type", "customer_id", "route", "method", "status", "duration_ms", "count", "consumer", "topic")

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for name in self.FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info and record.exc_info[1] is not None:
            entry["error"] = traceback_without_values(record.exc_info[1])
        return json.dumps(entry, ensure_ascii=False)


def traceback_without_values(error: BaseException) -> str:
    """Where an error came from, and its causes: classes and frames, never messages or locals.

    An error's message carries values (a constraint's key, a statement's parameters, the input that
    failed), and values may be personal data."""
    lines: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if lines:
            lines.append("caused by:")
        lines.append(f"{type(current).__module__}.{type(current).__qualname__}")
        for frame in traceback.extract_tb(current.__traceback__):
            lines.append(f"  {frame.filename}:{frame.lineno} in {frame.name}")
        current = current.__cause__ or current.__context__
    return "\n".join(lines)


_listener: QueueListener | None = None


def configure_logging(level: str = "INFO", stream=None) -> None:
    """Lines are formatted where they are logged (the request id lives there) and written by a
    thread of their own, so a slow stderr never stalls the event loop."""
    global _listener
    if _listener is not None:
        _listener.stop()
    writer = logging.StreamHandler(stream or sys.stderr)
    writer.setFormatter(logging.Formatter("%(message)s"))
    records: queue.SimpleQueue = queue.SimpleQueue()
    _listener = QueueListener(records, writer)
    _listener.start()
    handler = QueueHandler(records)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's access log prints full URLs, whose query strings may hold names: ours logs routes.
    logging.getLogger("uvicorn.access").disabled = True
    # These log statement parameters and URLs at INFO or DEBUG: they stay at WARNING whatever the level.
    # (aiosqlite logs every statement with its parameters at DEBUG.)
    for chatty in ("aiokafka", "aiosqlite", "asyncpg", "sqlalchemy.engine", "httpx", "httpcore", "uvicorn.error"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))


@atexit.register
def _flush_logs() -> None:
    if _listener is not None:
        _listener.stop()
