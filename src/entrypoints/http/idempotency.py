"""Idempotency-Key handling for the POSTs that create jobs (IETF httpapi draft semantics).

Same key and same payload replays the first response; same key with another payload is 422; a
request still in flight under the key is 409. Keys are scoped to the user and live 24 hours.
Only successful responses are stored: after an error the client may retry with the same key. When the
error was the database going away, freeing the key fails too; it is then freed in the background as soon
as the database is back (a client retrying after the 503's Retry-After finds it free), and a claim left
in flight for a minute is treated as abandoned in any case (adapters/persistence/idempotency.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import msgspec
import structlog
from litestar import Request, Response

from adapters.outages import unavailable_dependency
from application.ports.idempotency import (
    IdempotencyReceipt,
    IdempotencyStore,
    KeyClaim,
    KeyClaimRequest,
    KeyState,
    KeyTakenError,
    StoredResponse,
)
from domain.accounts import Principal
from entrypoints.http.problems import ProblemError

KEY_TTL = timedelta(hours=24)
_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
REPLAYED_HEADER = "Idempotent-Replayed"
RELEASE_RETRY_SECONDS = 60.0
RELEASE_FIRST_PAUSE_SECONDS = 0.25
RELEASE_MAX_PAUSE_SECONDS = 5.0
logger = structlog.get_logger(__name__)
T = TypeVar("T")
Answer = tuple[int, msgspec.Struct, dict[str, str]]  # status, body, headers
_releasing: set[asyncio.Task[None]] = set()  # held so a running release is not garbage-collected


def fingerprint(request: Request[Any, Any, Any], payload_sha256: bytes) -> str:
    """What a key's request is compared by: its method, its path and its payload's SHA-256 digest."""
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.url.path}\n".encode())
    digest.update(payload_sha256)
    return digest.hexdigest()


async def idempotent(
    request: Request[Any, Any, Any],
    idempotency: IdempotencyStore,
    principal: Principal,
    payload: bytes,
    produce: Callable[[], Awaitable[tuple[int, msgspec.Struct, dict[str, str]]]],
) -> Response[bytes]:
    """Run ``produce`` once per (user, Idempotency-Key); without the header, just run it."""

    async def create(_: IdempotencyReceipt[tuple[int, msgspec.Struct, dict[str, str]]] | None) -> Answer:
        return await produce()

    payload_sha256 = hashlib.sha256(payload).digest()
    return await idempotent_creation(request, idempotency, principal, payload_sha256, create, _same)


async def idempotent_creation(
    request: Request[Any, Any, Any],
    idempotency: IdempotencyStore,
    principal: Principal,
    payload_sha256: bytes,
    create: Callable[[IdempotencyReceipt[T] | None], Awaitable[T]],
    respond: Callable[[T], Answer],
    *,
    claim_in_create: bool = False,
) -> Response[bytes]:
    """Run ``create`` once per (user, Idempotency-Key) and answer ``respond(created)``; without the
    header, just run it.

    ``create`` is handed a receipt with which a use case may store the response in the transaction
    that creates what it answers for; the key is then complete when that commits, without a
    transaction of its own. A use case that does not use the receipt has its key completed after it
    returns, as before.

    ``claim_in_create``: the key is not claimed here first; the receipt's ``pending_claim`` is, by the
    use case's first statement (the upload's reference read: one round trip less per upload), before it
    writes anything. Work done before that statement (the upload's decode check and its recording's
    write, deleted when refused) is then done for a retry too."""
    raw_key = request.headers.get("idempotency-key")
    if raw_key is None:
        return _respond(*respond(await create(None)))
    key = raw_key.strip().strip('"')
    if not _KEY_PATTERN.match(key):
        raise ProblemError(
            400, "idempotency-key-invalid", "Idempotency-Key must be 1-255 visible ASCII characters"
        )
    scope = str(principal.user_id)
    claim = KeyClaimRequest(scope, key, fingerprint(request, payload_sha256), datetime.now(UTC), KEY_TTL)
    if claim_in_create:
        receipt = Receipt(scope, key, respond, pending_claim=claim)
    else:
        taken = await idempotency.claim(claim.scope, claim.key, claim.fingerprint, claim.now, claim.ttl)
        if taken.state is not KeyState.NEW:
            return _taken(taken)
        receipt = Receipt(scope, key, respond)
    try:
        created = await create(receipt)
    except KeyTakenError as refused:
        return _taken(refused.claim)
    except BaseException:
        if receipt.claim_made:
            await _release(idempotency, scope, key)
        raise
    if not receipt.claim_made:
        raise RuntimeError("the use case left the Idempotency-Key unclaimed")
    response = receipt.given
    if response is None:
        response = receipt.response(created)
        await idempotency.complete(scope, key, response)
    return Response(
        response.body, status_code=response.status_code, media_type="application/json",
        headers=response.headers,
    )  # fmt: skip


def _taken(claim: KeyClaim) -> Response[bytes]:
    """The answer for a key another request holds: its response replayed, or why not."""
    if claim.state is KeyState.REPLAY and claim.response is not None:
        stored = claim.response
        headers = {**stored.headers, REPLAYED_HEADER: "true"}
        return Response(
            stored.body, status_code=stored.status_code, media_type="application/json", headers=headers
        )
    if claim.state is KeyState.MISMATCH:
        raise ProblemError(
            422, "idempotency-key-reused", "this Idempotency-Key was used with a different request"
        )
    raise ProblemError(
        409, "idempotency-key-in-flight", "a request with this Idempotency-Key is still being processed",
        headers={"Retry-After": "1"},
    )  # fmt: skip


class Receipt(Generic[T]):
    """The response to store under a claimed key, encoded once: ``given`` is what a use case stored
    (in its own transaction), None while it stored nothing. With a ``pending_claim``, the key is the
    use case's to claim (``claimed``); ``claim_made`` says whether it has been."""

    def __init__(
        self,
        scope: str,
        key: str,
        respond: Callable[[T], Answer],
        pending_claim: KeyClaimRequest | None = None,
    ) -> None:
        self.scope = scope
        self.key = key
        self._respond = respond
        self.given: StoredResponse | None = None
        self._pending_claim = pending_claim
        self.claim_made = pending_claim is None

    @property
    def pending_claim(self) -> KeyClaimRequest | None:
        return None if self.claim_made else self._pending_claim

    def claimed(self) -> None:
        self.claim_made = True

    def response(self, created: T) -> StoredResponse:
        status, body, headers = self._respond(created)
        self.given = StoredResponse(status, msgspec.json.encode(body), headers)
        return self.given


def _same(answer: Answer) -> Answer:
    return answer


async def _release(idempotency: IdempotencyStore, scope: str, key: str) -> None:
    """Free the key of a failed request; while the database is down, keep trying in the background."""
    try:
        await idempotency.release(scope, key)
    except Exception as error:
        if unavailable_dependency(error) is None:
            raise
        task = asyncio.get_running_loop().create_task(_release_when_back(idempotency, scope, key))
        _releasing.add(task)
        task.add_done_callback(_releasing.discard)


async def _release_when_back(idempotency: IdempotencyStore, scope: str, key: str) -> None:
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + RELEASE_RETRY_SECONDS
    pause = RELEASE_FIRST_PAUSE_SECONDS
    while True:
        await asyncio.sleep(pause)
        try:
            await idempotency.release(scope, key)
            return
        except Exception as error:
            dependency = unavailable_dependency(error)
            if dependency is None or loop.time() + pause > give_up_at:
                # The in-flight lease frees the key in the end.
                logger.warning("idempotency key not released", dependency=dependency, error=repr(error))
                return
        pause = min(pause * 2, RELEASE_MAX_PAUSE_SECONDS)


def _respond(status: int, body: msgspec.Struct, headers: dict[str, str]) -> Response[bytes]:
    return Response(
        msgspec.json.encode(body), status_code=status, media_type="application/json", headers=headers
    )
