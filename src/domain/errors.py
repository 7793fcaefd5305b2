"""Domain errors: each names a kind of failure the outer layers translate (to HTTP problems, CLI exits)."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every rule violation the domain or a use case reports."""

    code = "domain-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(DomainError):
    code = "not-found"

    def __init__(self, entity: str, identifier: object) -> None:
        super().__init__(f"{entity} {identifier} was not found")
        self.entity = entity
        self.identifier = identifier


class ConflictError(DomainError):
    code = "conflict"


class AuthenticationError(DomainError):
    code = "unauthenticated"


class PermissionDeniedError(DomainError):
    code = "forbidden"


class InvalidInputError(DomainError):
    """A value breaks a domain rule; ``field`` names the offending input."""

    code = "invalid-input"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
