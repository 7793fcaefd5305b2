"""Routes of the web client: the page at ``/`` and its assets under ``/app/``, with a strict CSP."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from litestar import Response, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.enums import MediaType
from litestar.static_files import create_static_files_router

from entrypoints.http.routing import MountedOnce
from entrypoints.settings import Settings

STATIC_DIR = Path(__file__).parent / "static"
ASSETS_PATH = "/app"
# Assets are revalidated on every load (ETag / Last-Modified): a deploy is picked up without a reload.
ASSET_CACHE = CacheControlHeader(no_cache=True)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Stream URLs carry a ticket: no page of ours hands its URL to another origin.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "microphone=(self), camera=(), geolocation=()",
}


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def media_sources(settings: Settings) -> list[str]:
    """Where reference audio may come from: this origin, recordings being previewed (``blob:``), the
    public base URL (local storage's signed URLs) and the S3 endpoint browsers reach."""
    sources = ["'self'", "blob:"]
    extra = [_origin(settings.public_base_url)]
    if settings.storage_backend == "s3":
        s3 = settings.s3
        endpoint = s3.public_endpoint_url or s3.endpoint_url
        extra.append(_origin(endpoint) if endpoint else "https://*.amazonaws.com")
    sources.extend(origin for origin in extra if origin and origin not in sources)
    return sources


def content_security_policy(settings: Settings) -> str:
    directives = {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "media-src": media_sources(settings),
        "connect-src": ["'self'"],
        "manifest-src": ["'self'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def build_web_router(settings: Settings) -> Router:
    """``GET /`` (the page) and ``/app/*`` (its scripts, styles and icon); not part of the OpenAPI."""
    page_headers = {**SECURITY_HEADERS, "Content-Security-Policy": content_security_policy(settings)}
    index = (STATIC_DIR / "index.html").read_bytes()

    @get("/", include_in_schema=False, cache_control=ASSET_CACHE)
    async def web_client() -> Response[bytes]:
        return Response(index, media_type=MediaType.HTML, headers=page_headers)

    def secure(response: Any) -> Any:
        response.headers.update(page_headers)
        return response

    assets = create_static_files_router(
        router_class=MountedOnce,
        path=ASSETS_PATH,
        directories=[STATIC_DIR],
        name="web-assets",
        cache_control=ASSET_CACHE,
        after_request=secure,
        include_in_schema=False,
    )
    return MountedOnce(path="/", route_handlers=[web_client, assets], include_in_schema=False)
