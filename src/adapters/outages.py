"""Which dependency's outage an error comes from: Postgres, Redis, object storage or the reference audio's
child processes (espeak-ng missing), or none of them.

The drivers raise outages in many shapes (a bare ``ConnectionRefusedError`` from asyncpg's connect,
SQLAlchemy's invalidated connection, botocore's timeouts, a Redis ``ConnectionError``); the entrypoints
ask here rather than knowing every driver.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator

import asyncpg
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from adapters.audio.reference_processing import ReferenceProcessingUnavailableError
from adapters.storage.common import StorageUnavailableError

POSTGRES = "postgres"
REDIS = "redis"
STORAGE = "storage"
REFERENCE_PROCESSING = "reference audio processing"

_STORAGE_ERRORS = (StorageUnavailableError, BotoConnectionError, ConnectTimeoutError, ReadTimeoutError)
_REDIS_ERRORS = (RedisConnectionError, RedisTimeoutError)
# Connection lost, server shutting down or starting up; a full pool is as unavailable to this request.
_POSTGRES_ERRORS = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    PoolTimeoutError,
)


def unavailable_dependency(error: BaseException) -> str | None:
    """The dependency whose outage raised ``error`` (or an error it caused), or None for anything else."""
    for cause in _chain(error):
        if isinstance(cause, _STORAGE_ERRORS):
            return STORAGE
        if isinstance(cause, _REDIS_ERRORS):
            return REDIS
        if isinstance(cause, ReferenceProcessingUnavailableError):
            return REFERENCE_PROCESSING
        if isinstance(cause, _POSTGRES_ERRORS) or _lost_database_connection(cause):
            return POSTGRES
    return None


def _lost_database_connection(error: BaseException) -> bool:
    if isinstance(error, DBAPIError):
        return error.connection_invalidated
    # asyncpg's connect lets the socket's error through bare (refused, reset, timed out).
    return isinstance(error, OSError) and _raised_in(error, "asyncpg")


def _raised_in(error: BaseException, package: str) -> bool:
    return any(
        str(frame.f_globals.get("__name__", "")).startswith(package)
        for frame, _ in traceback.walk_tb(error.__traceback__)
    )


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error, what it was raised from or while handling, and a wrapped driver error, each once."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        original = getattr(current, "orig", None)
        pending.extend(
            [
                current.__context__,
                current.__cause__,
                original if isinstance(original, BaseException) else None,
            ]
        )
