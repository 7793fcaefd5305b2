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
