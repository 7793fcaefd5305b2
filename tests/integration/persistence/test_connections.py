"""The pool checks a connection without a round trip (no pre-ping): one whose session the server ended
(a restart, a failover, an administrator) is replaced at checkout, so the next request succeeds; one
still open is reused as it is."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from adapters.outages import unavailable_dependency
from adapters.persistence.connections import HeldConnections, discard_closed_connections, driver_connection


@pytest.fixture
async def pooled(clean_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(clean_database, pool_size=1, max_overflow=0)
    discard_closed_connections(engine)
    yield engine
    await engine.dispose()


async def _backend(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(text("SELECT pg_backend_pid()")) or 0)


async def test_a_connection_the_server_closed_is_replaced_at_checkout(
    pooled: AsyncEngine, engine: AsyncEngine
) -> None:
    async with driver_connection(pooled) as pooled_connection:
        first = int(await pooled_connection.fetchval("SELECT pg_backend_pid()"))
    async with engine.connect() as admin:
        await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        await admin.commit()
    for _ in range(100):  # asyncpg reads the end of the session as soon as the loop runs
        if pooled_connection.is_closed():
            break
        await asyncio.sleep(0.02)
    else:
        pytest.fail("asyncpg did not notice the closed session")

    second = await _backend(pooled)
    raw = await driver_connection_pid(pooled)

    assert second != first
    assert raw == second  # the raw path gets the same live pooled connection


async def driver_connection_pid(engine: AsyncEngine) -> int:
    async with driver_connection(engine) as connection:
        return int(await connection.fetchval("SELECT pg_backend_pid()"))


async def test_an_open_connection_is_reused_without_a_check_query(pooled: AsyncEngine) -> None:
    assert await _backend(pooled) == await _backend(pooled) == await driver_connection_pid(pooled)


async def test_a_connection_closed_under_a_statement_is_a_postgres_outage(
    pooled: AsyncEngine, engine: AsyncEngine
) -> None:
    ended: list[int] = []

    with pytest.raises(asyncpg.PostgresConnectionError) as raised:
        await _statement_after_the_server_ended_the_session(pooled, engine, ended)

    assert unavailable_dependency(raised.value) == "postgres"
    assert await driver_connection_pid(pooled) not in ended  # the dead connection left the pool


async def _statement_after_the_server_ended_the_session(
    pooled: AsyncEngine, engine: AsyncEngine, ended: list[int]
) -> None:
    async with driver_connection(pooled) as connection:
        ended.append(int(await connection.fetchval("SELECT pg_backend_pid()")))
        async with engine.connect() as admin:
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": ended[0]})
            await admin.commit()
        for _ in range(100):
            if connection.is_closed():
                break
            await asyncio.sleep(0.02)
        await connection.fetchval("SELECT 1")


async def _held_pid(held: HeldConnections) -> int:
    async with held.connection() as connection:
        return int(await connection.fetchval("SELECT pg_backend_pid()"))


async def test_held_connections_stay_checked_out_between_statements(pooled: AsyncEngine) -> None:
    held = HeldConnections(pooled, keep=1)
    first = await _held_pid(held)

    assert pooled.pool.checkedout() == 1  # kept, not given back to the pool
    assert await _held_pid(held) == first
    await held.close()
    assert pooled.pool.checkedout() == 0
    assert await driver_connection_pid(pooled) == first  # given back, alive


async def test_a_held_connection_the_server_closed_is_replaced(
    pooled: AsyncEngine, engine: AsyncEngine
) -> None:
    held = HeldConnections(pooled, keep=1)
    async with held.connection() as kept:
        first = int(await kept.fetchval("SELECT pg_backend_pid()"))
    async with engine.connect() as admin:
        await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        await admin.commit()
    for _ in range(100):
        if kept.is_closed():
            break
        await asyncio.sleep(0.02)

    second = await _held_pid(held)

    assert second != first
    assert pooled.pool.checkedout() == 1
    await held.close()


async def test_held_connections_beyond_the_kept_number_go_back_to_the_pool(clean_database: str) -> None:
    engine = create_async_engine(clean_database, pool_size=2, max_overflow=0)
    held = HeldConnections(engine, keep=1)
    try:
        async with held.connection(), held.connection():
            assert engine.pool.checkedout() == 2
        assert engine.pool.checkedout() == 1
    finally:
        await held.close()
        await engine.dispose()


async def test_a_held_statement_cut_short_gives_its_connection_back_to_the_pool(pooled: AsyncEngine) -> None:
    held = HeldConnections(pooled, keep=1)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1), held.connection() as connection:
            await connection.execute("SELECT pg_sleep(5)")

    assert pooled.pool.checkedout() == 0  # reset by the pool, not kept busy
    assert await driver_connection_pid(pooled) > 0
