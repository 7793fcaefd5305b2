"""Idempotency-Key handling for the POSTs that create jobs (IETF httpapi draft semantics).

Same key and same payload replays the first response; same key with another payload is 422; a
request still in flight under the key is 409. Keys are scoped to the user and live 24 hours.
Only successful responses are stored: after an error the client may retry with the same key.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from litestar import Request, Response

from application.ports.idempotency import IdempotencyStore, KeyState, StoredResponse
from domain.accounts import Principal
from entrypoints.http.problems import ProblemError

KEY_TTL = timedelta(hours=24)
# When the release itself fails (what failed the request was often the database: a full pool, an
# outage), it is tried again in the background at these intervals; a key left in flight would answer
# 409 to every retry until it expires.
RELEASE_RETRY_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
logger = logging.getLogger(__name__)
_releasing: set[asyncio.Task[None]] = set()
_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
REPLAYED_HEADER = "Idempotent-Replayed"


def fingerprint(request: Request[Any, Any, Any], payload: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.url.path}\n".encode())
    digest.update(hashlib.sha256(payload).digest())
    return digest.hexdigest()


async def idempotent(
    request: Request[Any, Any, Any],
    idempotency: IdempotencyStore,
    principal: Principal,
    payload: bytes,
    produce: Callable[[], Awaitable[tuple[int, msgspec.Struct, dict[str, str]]]],
) -> Response[bytes]:
    """Run ``produce`` once per (user, Idempotency-Key); without the header, just run it."""
    raw_key = request.headers.get("idempotency-key")
    if raw_key is None:
        return _respond(*await produce())
    key = raw_key.strip().strip('"')
    if not _KEY_PATTERN.match(key):
        raise ProblemError(
            400, "idempotency-key-invalid", "Idempotency-Key must be 1-255 visible ASCII characters"
        )
    scope = str(principal.user_id)
    claim = await idempotency.claim(scope, key, fingerprint(request, payload), datetime.now(UTC), KEY_TTL)
    if claim.state is KeyState.MISMATCH:
        raise ProblemError(
            422, "idempotency-key-reused", "this Idempotency-Key was used with a different request"
        )
    if claim.state is KeyState.IN_FLIGHT:
        raise ProblemError(
            409, "idempotency-key-in-flight", "a request with this Idempotency-Key is still being processed",
            headers={"Retry-After": "1"},
        )  # fmt: skip
    if claim.state is KeyState.REPLAY and claim.response is not None:
        stored = claim.response
        headers = {**stored.headers, REPLAYED_HEADER: "true"}
        return Response(
            stored.body, status_code=stored.status_code, media_type="application/json", headers=headers
        )
    try:
        status, body, headers = await produce()
    except BaseException:
        await _release(idempotency, scope, key)
        raise
    encoded = msgspec.json.encode(body)
    await idempotency.complete(scope, key, StoredResponse(status, encoded, headers))
    return Response(encoded, status_code=status, media_type="application/json", headers=headers)


async def _release(idempotency: IdempotencyStore, scope: str, key: str) -> None:
    try:
        await idempotency.release(scope, key)
    except Exception:
        task = asyncio.create_task(_release_later(idempotency, scope, key))
        _releasing.add(task)
        task.add_done_callback(_releasing.discard)


async def _release_later(idempotency: IdempotencyStore, scope: str, key: str) -> None:
    failure: Exception | None = None
    for delay in RELEASE_RETRY_SECONDS:
        await asyncio.sleep(delay)
        try:
            await idempotency.release(scope, key)
        except Exception as error:
            failure = error
        else:
            return
    logger.warning(
        "an Idempotency-Key stays in flight until it expires: its release kept failing", exc_info=failure
    )


def _respond(status: int, body: msgspec.Struct, headers: dict[str, str]) -> Response[bytes]:
    return Response(
        msgspec.json.encode(body), status_code=status, media_type="application/json", headers=headers
    )
