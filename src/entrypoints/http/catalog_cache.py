"""Catalog reads served from their cached bytes: the shared Redis cache, ETags and 304s.

Public catalog GETs (the pages and single actors, tokens and scripts) answer the same to everyone, so
their first answer is kept as bytes in Redis (adapters.cache) and later ones skip the handler, the
database and the encoding. Every answer carries a strong ETag (a hash of the bytes) and
``Cache-Control: public, no-cache``: clients may keep it but ask again, and an ``If-None-Match`` that
names the current ETag gets 304 without a body.
"""

from __future__ import annotations

import re

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from adapters.cache.redis_catalog_pages import CachedPage, RedisCatalogPages
from entrypoints.http.conditional import etag_matches, strong_etag

# A collection, or one member by id; the deprecated unversioned paths and /v1 alike.
CACHED_PATHS = re.compile(r"^(?:/v1)?/(?:actors|tokens|scripts)/?(?:[0-9a-fA-F-]{36}/?)?$")
CATALOG_CACHE_CONTROL = b"public, no-cache"
# Set by send_cached itself; any other header of the handler's answer is kept with the page.
_OWN_HEADERS = frozenset({"content-length", "etag", "cache-control"})
# Describe a body a 304 does not have.
_BODY_HEADERS = frozenset({"content-type", "content-length"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


async def send_cached(send: Send, page: CachedPage, if_none_match: str | None) -> None:
    """The cached answer, or 304 (with the same headers, less the body's) when the client has it."""
    not_modified = etag_matches(if_none_match, page.etag)
    headers = [
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in page.headers
        if not (not_modified and name in _BODY_HEADERS)
    ]
    headers += [(b"etag", page.etag.encode()), (b"cache-control", CATALOG_CACHE_CONTROL)]
    if not not_modified:
        headers.append((b"content-length", str(len(page.body)).encode()))
    await send({"type": "http.response.start", "status": 304 if not_modified else 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if not_modified else page.body, "more_body": False})


def catalog_cache_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != ScopeType.HTTP
            or scope["method"] != "GET"
            or not CACHED_PATHS.match(scope["path"])
        ):
            await app(scope, receive, send)
            return
        pages: RedisCatalogPages = scope["litestar_app"].state.container.catalog_pages
        key = scope["path"].rstrip("/") + "?" + scope["query_string"].decode("latin-1")
        if_none_match = _header(scope, b"if-none-match")
        found = await pages.lookup(key)
        if found.page is not None:
            await send_cached(send, found.page, if_none_match)
            return
        answer = await _answer_of(app, scope, receive, send)
        if answer is None:
            return
        headers, body = answer
        page = CachedPage(strong_etag(body), headers, body)
        if found.generation is not None:
            await pages.store(key, found.generation, page)
        await send_cached(send, page, if_none_match)

    return middleware


async def _answer_of(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> tuple[tuple[tuple[str, str], ...], bytes] | None:
    """The handler's 200 JSON answer (its headers and body), held back to be cached; any other answer
    goes to the client as is (and None is returned)."""
    start: MutableScopeHeaders | None = None
    chunks: list[bytes] = []
    passed_through = False

    async def hold(message: Message) -> None:
        nonlocal start, passed_through
        if passed_through:
            await send(message)
            return
        if message["type"] == "http.response.start":
            headers = MutableScopeHeaders.from_message(message)
            if message["status"] == 200 and headers.get("content-type", "").startswith("application/json"):
                start = headers
                return
            passed_through = True
            await send(message)
            return
        body = message.get("body", b"")
        chunks.append(body if isinstance(body, bytes) else b"")

    await app(scope, receive, hold)
    if passed_through or start is None:
        return None
    raw = ((name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in start.headers)
    headers = tuple((name, value) for name, value in raw if name not in _OWN_HEADERS)
    return headers, b"".join(chunks)
