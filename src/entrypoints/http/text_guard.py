"""Text Postgres cannot store is refused at the edge, once, for every route.

PostgreSQL's ``text`` refuses the NUL character. Without this guard a NUL in a query parameter (``GET
/tokens?q=%00``), a path segment or a JSON or form field reached the database and came back as a 500;
each route would otherwise need its own check. Here it is a 400 ``/problems/validation`` naming where the
NUL was. Multipart bodies are not inspected: their only part is audio, where NUL bytes are data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

from entrypoints.http.problems import ProblemError

NUL = "\x00"
_JSON_NUL = b"\\u0000"


def nul_fields(value: Any, at: str = "") -> list[str]:
    """Where a decoded JSON value holds a NUL, as field paths (``words[0].text``); a key counts too."""
    if isinstance(value, str):
        return [at or "body"] if NUL in value else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            field = f"{at}.{key}" if at else str(key)
            found += [field] if NUL in str(key) else nul_fields(item, field)
        return found
    if isinstance(value, list):
        return [field for index, item in enumerate(value) for field in nul_fields(item, f"{at}[{index}]")]
    return []


def json_nul_fields(body: bytes) -> list[str]:
    if _JSON_NUL not in body:  # the only way to write NUL in JSON; most bodies stop here
        return []
    try:
        return nul_fields(msgspec.json.decode(body))
    except msgspec.DecodeError:
        return []  # not JSON: the route's own decoding answers 400


def form_nul_fields(encoded: bytes) -> list[str]:
    """``application/x-www-form-urlencoded`` or a query string: the names whose name or value holds a NUL
    (raw or as ``%00``)."""
    if b"\x00" not in unquote_to_bytes(encoded):
        return []
    pairs = parse_qsl(encoded.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace")
    return [name.replace(NUL, "\\0") for name, value in pairs if NUL in name or NUL in value]


def _refuse(source: str, fields: list[str]) -> ProblemError:
    errors = [
        {"field": field, "message": "text may not contain the NUL character", "source": source}
        for field in fields
    ]
    detail = "; ".join(f"{field}: text may not contain the NUL character" for field in fields)
    return ProblemError(400, "validation", detail, extra={"errors": errors})


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
            raise _refuse("path", ["path"])
        if query_fields := form_nul_fields(scope.get("query_string", b"")):
            raise _refuse("query", query_fields)
        media_type = _media_type(scope)
        check: Callable[[bytes], list[str]]
        if media_type == "application/x-www-form-urlencoded":
            check = form_nul_fields
        elif media_type == "application/json" or media_type.endswith("+json"):
            check = json_nul_fields
        else:
            await app(scope, receive, send)
            return
        body = bytearray()

        async def checked_receive() -> ReceiveMessage:
            # Raised from here, the problem reaches the app's exception handlers like a handler's own.
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
                if not message.get("more_body", False) and (fields := check(bytes(body))):
                    raise _refuse("body", fields)
            return message

        await app(scope, checked_receive, send)

    return middleware
