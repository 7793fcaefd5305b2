"""Security ports: password hashing and access tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.accounts import Principal


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    expires_in_seconds: int


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...
    def verify(self, password_hash: str, password: str) -> bool: ...
    def needs_rehash(self, password_hash: str) -> bool: ...


class TokenIssuer(Protocol):
    def issue(self, principal: Principal) -> AccessToken: ...

    def verify(self, token: str) -> Principal:
        """Raise ``AuthenticationError`` for a forged, expired or malformed token."""
        ...
