"""RFC 9457 problem details for every error a client can see, naming the field at fault."""

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from sqlalchemy import exc as sa_exc
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://customer-pulse.dev/problems/"


class Problem(Exception):
    """A domain error with the HTTP status and the field it concerns."""

    def __init__(self, status: int, title: str, detail: str, *, field: str | None = None, headers: dict | None = None, **extra):
        super().__init__(detail)
        self.headers = headers
        self.status = status
        self.title = title
        self.detail = detail
        self.field = field
        self.extra = extra


def problem_body(status: int, title: str, detail: str, instance: str, errors: list[dict] | None = None, **extra) -> dict:
    slug = title.lower().replace(" ", "-")
    body = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail, "instance": instance}
    if errors:
        body["errors"] = errors
    body.update(extra)
    return body


def problem_response(status: int, title: str, detail: str, request: Request, errors=None, headers=None, **extra) -> JSONResponse:
    body = problem_body(status, title, detail, request.url.path, errors, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def field_name(location: tuple | list) -> str:
    """`("body", "items", 3, "amount")` → `items[3].amount`; the body itself is `body`."""
    parts = list(location)
    if parts and parts[-1] == "[key]":  # a bad key names the mapping it is in: the key may not be printable
        parts = parts[:-2]
    if parts and parts[0] in ("body", "query", "path", "header"):
        source = parts.pop(0)
        if not parts:
            return source
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def validation_errors(errors: list[dict]) -> list[dict]:
    described = []
    for error in errors:
        message = error.get("msg", "is invalid").removeprefix("Value error, ")
        if error.get("type") == "missing":
            message = "is required"
        elif error.get("type") == "extra_forbidden":
            message = "is not a known field"
        # A validator may locate the fault inside its field (services.common.text: a string deep in JSON).
        location = (*error.get("loc", ()), *(error.get("ctx") or {}).get("at", ()))
        field = "body" if error.get("type") == "json_invalid" else field_name(location)
        described.append({"field": field, "message": message})
    return described


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def on_problem(request: Request, error: Problem):
        errors = [{"field": error.field, "message": error.detail}] if error.field else None
        return problem_response(error.status, error.title, error.detail, request, errors, error.headers, **error.extra)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, error: RequestValidationError):
        errors = validation_errors(list(error.errors()))
        if any(raw.get("type") == "json_invalid" for raw in error.errors()):
            return problem_response(400, "Malformed JSON", "The request body is not valid JSON.", request, errors)
        summary = "; ".join(f"{item['field']}: {item['message']}" for item in errors[:5])
        return problem_response(422, "Validation failed", summary, request, errors)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, error: StarletteHTTPException):
        title = HTTPStatus(error.status_code).phrase
        detail = error.detail if isinstance(error.detail, str) else title
        return problem_response(error.status_code, title, detail, request, headers=getattr(error, "headers", None))


def log_unexpected(scope, error: Exception) -> None:
    # The route's template, not the path (a path may hold what a client typed); the log
    # formatter keeps the error's class and frames and drops its message, which holds values.
    route = getattr(scope.get("route"), "path", "unmatched")
    log.error("unhandled %s", type(error).__name__, exc_info=error, extra={"route": route, "method": scope.get("method")})


def database_busy(error: Exception) -> bool:
    """The database could not serve the request now, though nothing is wrong with it: SQLite's write
    lock was held longer than the wait, the server refused a connection, the pool had none free."""
    if isinstance(error, sa_exc.TimeoutError):
        return True
    return isinstance(error, sa_exc.DBAPIError) and (
        error.connection_invalidated or (isinstance(error, sa_exc.OperationalError) and "locked" in str(error.orig)))
