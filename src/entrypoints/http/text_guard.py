"""Text Postgres cannot store is refused at the edge, once, for every route.

PostgreSQL's ``text`` refuses the NUL character. Without this guard a NUL in a query parameter (``GET
/tokens?q=%00``), a path segment or a JSON or form field reached the database and came back as a 500;
each route would otherwise need its own check. Here it is a 400 ``/problems/validation`` naming where the
NUL was. Multipart bodies are not inspected: their only part is audio, where NUL bytes are data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

from entrypoints.http.problems import ProblemError

NUL = "\x00"
_JSON_NUL = b"\\u0000"


def holds_nul(value: Any) -> bool:
    """Whether a decoded JSON value has a NUL in any string, key or value, at any depth."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(holds_nul(key) or holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(holds_nul(item) for item in value)
    return False


def json_holds_nul(body: bytes) -> bool:
    if _JSON_NUL not in body:  # the only way to write NUL in JSON; most bodies stop here
        return False
    try:
        return holds_nul(msgspec.json.decode(body))
    except msgspec.DecodeError:
        return False  # not JSON: the route's own decoding answers 400


def form_holds_nul(encoded: bytes) -> bool:
    """``application/x-www-form-urlencoded`` or a query string: NUL raw or as ``%00``."""
    return b"\x00" in unquote_to_bytes(encoded)


def _refuse(where: str) -> ProblemError:
    return ProblemError(400, "validation", f"text may not contain the NUL character (found in the {where})")


def _media_type(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower().decode("latin-1")
    return ""


def nul_text_guard_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        if NUL in scope["path"]:
            raise _refuse("path")
        if form_holds_nul(scope.get("query_string", b"")):
            raise _refuse("query string")
        media_type = _media_type(scope)
        check: Callable[[bytes], bool]
        if media_type == "application/x-www-form-urlencoded":
            check = form_holds_nul
        elif media_type == "application/json" or media_type.endswith("+json"):
            check = json_holds_nul
        else:
            await app(scope, receive, send)
            return
        body = bytearray()

        async def checked_receive() -> ReceiveMessage:
            # Raised from here, the problem reaches the app's exception handlers like a handler's own.
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
                if not message.get("more_body", False) and check(bytes(body)):
                    raise _refuse("request body")
            return message

        await app(scope, checked_receive, send)

    return middleware
