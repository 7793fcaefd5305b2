"""Security ports: password hashing, access tokens and job stream tickets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from domain.accounts import Principal


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    expires_in_seconds: int


class PasswordHasher(Protocol):
    """Hashing is CPU-bound and slow by design: implementations must not block the event loop."""

    async def hash(self, password: str) -> str: ...
    async def verify(self, password_hash: str, password: str) -> bool: ...
    def needs_rehash(self, password_hash: str) -> bool: ...


class AccessTokenIssuer(Protocol):
    def issue(self, principal: Principal) -> AccessToken: ...

    def verify(self, token: str) -> Principal:
        """Raise ``AuthenticationError`` for a forged, expired or malformed token."""
        ...


class StreamTickets(Protocol):
    """Short-lived credentials naming one job (or the user's feed of all their jobs), for clients that can
    put a credential only in a URL."""

    def issue(self, principal: Principal, job_id: UUID) -> AccessToken: ...

    def verify(self, ticket: str, job_id: UUID) -> Principal:
        """Raise ``AuthenticationError`` unless the ticket is genuine, unexpired and for ``job_id``."""
        ...

    def issue_feed(self, principal: Principal) -> AccessToken:
        """A ticket that opens the principal's own feed of all their jobs' events, and nothing else."""
        ...

    def verify_feed(self, ticket: str) -> Principal:
        """Raise ``AuthenticationError`` unless the ticket is a genuine, unexpired feed ticket."""
        ...
