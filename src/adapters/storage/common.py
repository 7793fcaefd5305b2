"""Rules both object storage adapters share: which keys are valid, how long a URL may live."""

from __future__ import annotations

import re

MAX_KEY_LENGTH = 512
MAX_PRESIGNED_URL_SECONDS = 7 * 24 * 3600  # the SigV4 limit, applied to both stores alike

# Segments start with a letter or digit, so ".", "..", hidden names and our temp files are never keys.
_KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*")


class InvalidObjectKeyError(ValueError):
    """The key could escape the store or is not one the service ever generates."""


class StorageUnavailableError(ConnectionError):
    """The store did not answer, or answered that it cannot serve requests."""


def validate_object_key(key: str) -> str:
    if len(key) > MAX_KEY_LENGTH or _KEY_PATTERN.fullmatch(key) is None:
        raise InvalidObjectKeyError(
            f"invalid object key {key[:80]!r}: use '/'-separated segments of letters, digits, '.', '_' "
            "and '-', each starting with a letter or digit"
        )
    return key


def validate_expiry(expires_in_seconds: int) -> int:
    if not 0 < expires_in_seconds <= MAX_PRESIGNED_URL_SECONDS:
        raise ValueError(f"expires_in_seconds must be between 1 and {MAX_PRESIGNED_URL_SECONDS}")
    return expires_in_seconds
