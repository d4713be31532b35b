"""CORS: which browser pages, by origin, may call the APIs with credentials."""

from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from services.common.settings import Settings

# What a page may read from an answer besides the simple headers: the version for If-Match, where a
# created resource lives, and the id to quote when reporting a problem.
EXPOSED_HEADERS = ["ETag", "Location", "X-Request-ID"]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def allowed_origins(raw: str) -> list[str]:
    """The origins of PULSE_CORS_ALLOWED_ORIGINS; a value that is not one stops the start, with the reason."""
    origins = []
    for value in filter(None, (part.strip() for part in raw.split(","))):
        if "*" in value:
            raise SystemExit(f"PULSE_CORS_ALLOWED_ORIGINS: '{value}' is a wildcard, which browsers refuse together with "
                             "credentials; list each origin, e.g. https://app.example.com")
        parts = urlsplit(value.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query or parts.fragment:
            raise SystemExit(f"PULSE_CORS_ALLOWED_ORIGINS: '{value}' is not an origin (scheme://host[:port], no path)")
        origins.append(f"{parts.scheme}://{parts.netloc}")
    return origins


def install_cors(app: FastAPI, settings: Settings) -> None:
    """Call after every other middleware: the outermost one also puts CORS headers on the error
    answers (401, 403, 413, 422) that inner layers make, so that the page can read them."""
    origins = allowed_origins(settings.cors_allowed_origins)
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware, allow_origins=origins, allow_credentials=True, allow_methods=METHODS,
        allow_headers=["*"], expose_headers=EXPOSED_HEADERS, max_age=600,
    )
