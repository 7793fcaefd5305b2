"""API versions (docs/api-versioning.md): the public API under ``/v1``; its unversioned paths, deprecated.

The public controllers are mounted twice from one list: under ``/v1`` (in the OpenAPI document) and at
the root, outside the document, where `deprecation_middleware` adds to every response, errors included,
``Deprecation`` (RFC 9745), ``Sunset`` (RFC 8594) and ``Link: </v1/...>; rel="successor-version"`` naming
the v1 path of that very request. Operations, protocol, web and docs routes are not versioned
(`UNVERSIONED_PATHS`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import quote

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

API_V1 = "/v1"
OPENAPI_V1_PATH = f"{API_V1}/openapi.json"
# When the unversioned paths were deprecated (v1 released) and when they may be removed: six months
# later, the policy's minimum (docs/api-versioning.md).
DEPRECATED_SINCE = datetime(2026, 12, 6, tzinfo=UTC)
SUNSET = datetime(2027, 6, 30, tzinfo=UTC)
# Paths outside the versioned API, by prefix ("/app/" covers "/app/..."; a path without a trailing slash
# is also matched exactly): operations endpoints (probes and scrapes keep their URLs across versions),
# protocol endpoints (analysis servers' webhooks, signed storage URLs: their URLs are issued by this
# service or configured once per server), the web client and its assets, the API docs pages and the
# operators' queue dashboard.
UNVERSIONED_PATHS = (
    "/health",
    "/ready",
    "/metrics",
    "/webhooks/analysis",
    "/storage/",
    "/",
    "/app/",
    "/schema",
    "/admin/queue",
)
# Deprecated paths whose v1 successor is not the same path under /v1 (the seed's progress stream, and
# the OpenAPI document that /schema/openapi.json served before v1).
_RENAMED = (
    (re.compile(r"^/tokens/analysis-progress/(?P<job_id>[^/]+)$"), API_V1 + r"/jobs/\g<job_id>/events"),
    (re.compile(r"^/schema/openapi\.json$"), OPENAPI_V1_PATH),
)
DEPRECATION_HEADERS = ("Deprecation", "Sunset", "Link")
DEPRECATION_HEADER = f"@{int(DEPRECATED_SINCE.timestamp())}"
SUNSET_HEADER = format_datetime(SUNSET, usegmt=True)


def is_unversioned(path: str) -> bool:
    """Whether the policy keeps ``path`` (a route's path) outside the versioned API."""
    return any(
        path == prefix.rstrip("/") or path == prefix or (prefix != "/" and path.startswith(prefix))
        for prefix in UNVERSIONED_PATHS
    )


def successor_path(path: str) -> str:
    """The v1 path that replaces the deprecated request path ``path``."""
    for pattern, replacement in _RENAMED:
        if pattern.match(path):
            return pattern.sub(replacement, path)
    return API_V1 + path


def successor_link(path: str) -> str:
    """The ``Link`` header naming the successor of the deprecated request path ``path``."""
    # Request paths come percent-decoded; encode them again for the URI reference inside <...>.
    return f'<{quote(successor_path(path), safe="/:@!$&()*+,;=")}>; rel="successor-version"'


def _deprecating(app: ASGIApp, *, renamed_only: bool) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != ScopeType.HTTP or (renamed_only and not _is_renamed(path)):
            await app(scope, receive, send)
            return
        link = successor_link(path)

        async def send_deprecated(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                headers["Deprecation"] = DEPRECATION_HEADER
                headers["Sunset"] = SUNSET_HEADER
                headers.add("Link", link)
            await send(message)

        await app(scope, receive, send_deprecated)

    return middleware


def _is_renamed(path: str) -> bool:
    return any(pattern.match(path) for pattern, _ in _RENAMED)


def deprecation_middleware(app: ASGIApp) -> ASGIApp:
    """Adds the deprecation headers to every response of the routes it wraps (the unversioned mount)."""
    return _deprecating(app, renamed_only=False)


def renamed_deprecation_middleware(app: ASGIApp) -> ASGIApp:
    """Adds them only to the renamed paths among the routes it wraps (the docs router's old schema)."""
    return _deprecating(app, renamed_only=True)
