"""Conditional GETs (RFC 9110): strong ETags over the bytes sent, and 304 when If-None-Match names one."""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec
from litestar import Request, Response

# A finished job never changes again: its owner's client may reuse it for a day without asking.
FINISHED_JOB_CACHE_CONTROL = "private, max-age=86400"
# A job still moving: the client asks each time (and gets 304 while nothing changed).
UNFINISHED_JOB_CACHE_CONTROL = "private, no-cache"


def strong_etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110's weak comparison, which If-None-Match uses: ``W/`` prefixes are ignored."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))


def conditional_json(
    request: Request[Any, Any, Any], body: msgspec.Struct, cache_control: str
) -> Response[bytes]:
    """``body`` as JSON with its ETag and ``cache_control``, or 304 without a body when the client has it."""
    encoded = msgspec.json.encode(body)
    etag = strong_etag(encoded)
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(b"", status_code=304, headers=headers)
    return Response(encoded, media_type="application/json", headers=headers)
