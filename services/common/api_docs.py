"""The API documentation page, served with its scripts from the service itself.

FastAPI's own `/docs` loads Swagger UI from a public CDN: on a network without internet access
(where many deployments run) it is a blank page. ReDoc would need the same, so it is not offered."""

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

SWAGGER_UI = Path(__file__).parent / "static" / "swagger-ui"  # vendored swagger-ui-dist, see its README
STATIC_PATH = "/docs/static"


def install_api_docs(app: FastAPI) -> None:
    """`/docs` for an app made with `docs_url=None, redoc_url=None`."""
    app.mount(STATIC_PATH, StaticFiles(directory=SWAGGER_UI), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        # Behind a proxy that strips a prefix, every URL of the page carries that prefix.
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + app.openapi_url, title=f"{app.title} — API",
            swagger_js_url=f"{root}{STATIC_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_PATH}/favicon-32x32.png",
            # The validator badge would send the document to a public validator.
            swagger_ui_parameters={"validatorUrl": None},
        )
