"""Accounts: users, their roles and the rules on credentials."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from domain.errors import InvalidInputError, PermissionDeniedError

_EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
MIN_PASSWORD_LENGTH = 8
# argon2 hashes any length, but an unbounded password is a cheap way to burn server CPU.
MAX_PASSWORD_LENGTH = 256
MAX_EMAIL_LENGTH = 254


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


def normalise_email(raw: str) -> str:
    email = raw.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL_PATTERN.match(email):
        raise InvalidInputError("email", "is not a valid email address")
    return email


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError("password", f"must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInputError("password", f"must be at most {MAX_PASSWORD_LENGTH} characters long")


@dataclass(slots=True)
class User:
    id: UUID
    email: str
    display_name: str
    password_hash: str
    role: Role
    created_at: datetime

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling a use case: enough to authorise, nothing more."""

    user_id: UUID
    role: Role

    def require_admin(self) -> None:
        if self.role is not Role.ADMIN:
            raise PermissionDeniedError("this action needs the admin role")
