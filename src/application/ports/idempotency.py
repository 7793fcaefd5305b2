"""Idempotency keys for job-creating POSTs (IETF httpapi Idempotency-Key draft semantics)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, TypeVar


class KeyState(StrEnum):
    NEW = "new"
    IN_FLIGHT = "in_flight"
    REPLAY = "replay"
    MISMATCH = "mismatch"


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class KeyClaim:
    state: KeyState
    response: StoredResponse | None = None


@dataclass(frozen=True, slots=True)
class KeyClaimRequest:
    """A claim of ``key`` in ``scope`` for a request whose payload has ``fingerprint``, made at ``now``;
    a completed key is kept for ``ttl``."""

    scope: str
    key: str
    fingerprint: str
    now: datetime
    ttl: timedelta


class KeyTakenError(Exception):
    """A claim a use case made for its caller (``IdempotencyReceipt.pending_claim``) found the key
    taken: in flight, completed (``claim.response`` to replay) or used with another payload."""

    def __init__(self, claim: KeyClaim) -> None:
        super().__init__(claim.state.value)
        self.claim = claim


Created = TypeVar("Created", contravariant=True)


class IdempotencyReceipt(Protocol[Created]):
    """The answer to an idempotent request, for a use case to store in the transaction that creates
    what it answers for (the job, say): then no request can see the creation committed and its key
    still in flight, and no separate transaction completes the key. A use case that does not record it
    leaves the caller to complete the key afterwards (``IdempotencyStore.complete``)."""

    @property
    def scope(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def pending_claim(self) -> KeyClaimRequest | None:
        """The key's claim when the caller left it to the use case, to make in its first statement
        (one round trip less; ``JobIntake.reference``); None when the caller has claimed the key."""
        ...

    def claimed(self) -> None:
        """Report the pending claim made: from then on the caller frees the key if the request fails."""
        ...

    def response(self, created: Created) -> StoredResponse:
        """The response to store under the key for ``created``, as it will be committed."""
        ...


class IdempotencyStore(Protocol):
    async def claim(self, scope: str, key: str, fingerprint: str, now: datetime, ttl: timedelta) -> KeyClaim:
        """Claim the key for a first request, or say why not (in flight, replay, other payload)."""
        ...

    async def complete(self, scope: str, key: str, response: StoredResponse) -> None: ...

    async def release(self, scope: str, key: str) -> None:
        """Forget a claim whose request failed, so the client may retry with the same key."""
        ...

    async def prune(self, now: datetime) -> int: ...
