"""The API docs at ``/schema``: Swagger UI from the swagger-ui-py distribution, served by the service itself.

The page shows the v1 document, served at ``/v1/openapi.json`` (`openapi_v1`); Litestar's own
``/schema/openapi.json`` serves the same document, deprecated in favour of that path.

Litestar's own Swagger page loads its scripts from a CDN into this origin, whose localStorage holds the
access token; here every script and style comes from ``/schema/assets`` and the pages carry a CSP that
allows nothing else (no inline script either: the page starts Swagger UI from ``api-docs.js``).
"""

from __future__ import annotations

import html
import importlib.util
from pathlib import Path
from typing import Any

from litestar import Request, Router, get
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.datastructures import CacheControlHeader
from litestar.enums import OpenAPIMediaType
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin
from litestar.static_files import create_static_files_router

from entrypoints.http.routing import MountedOnce
from entrypoints.http.versioning import OPENAPI_V1_PATH, renamed_deprecation_middleware
from entrypoints.web.routes import SECURITY_HEADERS

DOCS_PATH = "/schema"
ASSETS_PATH = "/assets"
OWN_ASSETS_DIR = Path(__file__).parent / "api_docs_static"
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
DOCS_HEADERS = {**SECURITY_HEADERS, "Content-Security-Policy": CONTENT_SECURITY_POLICY}


def swagger_ui_dir() -> Path:
    """The packaged Swagger UI files (swagger-ui-py's ``static``), found without importing the package,
    whose ``__init__`` loads its web framework adapters."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py distribution is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


class SwaggerPage(OpenAPIRenderPlugin):
    """The Swagger UI page, loading only this service's files."""

    def __init__(self) -> None:
        super().__init__(path="/swagger")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = html.escape(str(openapi_schema["info"]["title"]))
        assets = DOCS_PATH + ASSETS_PATH
        spec_url = html.escape(OPENAPI_V1_PATH)
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-ui-standalone-preset.js"></script>
<script src="{assets}/api-docs.js" data-spec-url="{spec_url}"></script>
</body>
</html>
""".encode()


@get("/openapi.json", media_type=OpenAPIMediaType.OPENAPI_JSON, include_in_schema=False, sync_to_thread=False)
def openapi_v1(request: Request[Any, Any, Any]) -> bytes:
    """The OpenAPI document of v1, mounted under /v1 (it lists the /v1 routes only)."""
    schema = request.app.plugins.get(OpenAPIPlugin).provide_openapi_schema()
    return JsonRenderPlugin().render(request, schema)


def _with_docs_headers(response: Any) -> Any:
    response.headers.update(DOCS_HEADERS)
    return response


def build_docs_router() -> Router:
    """The router Litestar adds the schema and page routes to, with the assets and every response's CSP."""
    assets = create_static_files_router(
        router_class=MountedOnce,
        path=ASSETS_PATH,
        directories=[OWN_ASSETS_DIR, swagger_ui_dir()],
        name="api-docs-assets",
        cache_control=CacheControlHeader(max_age=3600),
        include_in_schema=False,
    )
    return MountedOnce(
        path=DOCS_PATH,
        route_handlers=[assets],
        include_in_schema=False,
        after_request=_with_docs_headers,
        middleware=[renamed_deprecation_middleware],
    )
