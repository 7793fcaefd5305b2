"""Errors from an outage name their dependency; every other error names none (and stays a 500)."""

from __future__ import annotations

import asyncpg
import pytest
import sqlalchemy
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.outages import unavailable_dependency
from adapters.storage.common import StorageUnavailableError
from tests.support.full_system import free_port


async def test_a_refused_database_connection_is_a_postgres_outage() -> None:
    engine = create_async_engine(f"postgresql+asyncpg://root@127.0.0.1:{free_port()}/nothing")
    try:
        with pytest.raises(ConnectionRefusedError) as refused:
            async with engine.connect() as connection:
                await connection.execute(sqlalchemy.text("SELECT 1"))
    finally:
        await engine.dispose()

    assert unavailable_dependency(refused.value) == "postgres"


def test_a_connection_lost_mid_transaction_is_a_postgres_outage() -> None:
    lost = DBAPIError("SELECT 1", None, asyncpg.exceptions.ConnectionDoesNotExistError("gone"))

    assert unavailable_dependency(lost) == "postgres"


def test_an_error_raised_while_handling_an_outage_names_the_outage() -> None:
    error = RuntimeError("rollback failed")
    error.__context__ = asyncpg.exceptions.AdminShutdownError("terminating connection")

    assert unavailable_dependency(error) == "postgres"


@pytest.mark.parametrize(
    ("error", "dependency"),
    [
        (RedisConnectionError("Connection refused"), "redis"),
        (EndpointConnectionError(endpoint_url="http://s3.test"), "storage"),
        (ReadTimeoutError(endpoint_url="http://s3.test"), "storage"),
        (StorageUnavailableError("bucket not reachable"), "storage"),
    ],
)
def test_redis_and_storage_outages_name_their_dependency(error: Exception, dependency: str) -> None:
    assert unavailable_dependency(error) == dependency


@pytest.mark.parametrize(
    "error",
    [
        IntegrityError("INSERT", None, asyncpg.exceptions.UniqueViolationError("duplicate key")),
        ConnectionRefusedError(111, "refused, but not by a driver"),
        ValueError("a bug"),
    ],
)
def test_other_errors_are_no_outage(error: Exception) -> None:
    assert unavailable_dependency(error) is None
