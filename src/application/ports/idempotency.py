"""Idempotency keys for job-creating POSTs (IETF httpapi Idempotency-Key draft semantics)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol


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


class IdempotencyStore(Protocol):
    async def claim(self, scope: str, key: str, fingerprint: str, now: datetime, ttl: timedelta) -> KeyClaim:
        """Claim the key for a first request, or say why not (in flight, replay, other payload)."""
        ...

    async def complete(self, scope: str, key: str, response: StoredResponse) -> None: ...

    async def release(self, scope: str, key: str) -> None:
        """Forget a claim whose request failed, so the client may retry with the same key."""
        ...

    async def prune(self, now: datetime) -> int: ...
