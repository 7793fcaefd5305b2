"""The connection pool's check of a connection before use, without a round trip.

SQLAlchemy's ``pool_pre_ping`` on asyncpg costs three round trips per checkout (BEGIN, ``SELECT ;``,
ROLLBACK), several per request. asyncpg notices a connection the server closed as soon as the socket
closes: a Postgres restart or failover terminates its sessions, and their connections report
``is_closed()`` before any request reuses them. Such a connection is discarded at checkout and a
fresh one opened, so the first requests after a restart succeed (tests/e2e/test_postgres_outage_api.py);
a connection that dies while in use fails that request as a Postgres outage (503), as before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn


def discard_closed_connections(engine: AsyncEngine) -> None:
    """Check every checkout from ``engine``'s pool for a connection the server already closed."""
    event.listen(engine.sync_engine, "checkout", _refuse_closed)


def _refuse_closed(_dbapi_connection: Any, _record: Any, proxy: PoolProxiedConnection) -> None:
    driver = proxy.driver_connection
    is_closed = getattr(driver, "is_closed", None)
    if driver is None or (is_closed is not None and is_closed()):
        # The pool invalidates this connection and checks out a fresh one in its place.
        raise DisconnectionError("the server closed this connection")


@asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection's asyncpg connection, for statements that bypass SQLAlchemy on hot paths.

    Each statement run on it without a transaction commits on its own (autocommit), so one statement
    is one round trip; none starts a transaction SQLAlchemy would have to end. A connection found
    closed after an error is discarded rather than returned to the pool."""
    proxied = await engine.raw_connection()
    try:
        async with _discarded_if_closed(proxied) as connection:
            yield connection
    finally:
        await greenlet_spawn(proxied.close)


@asynccontextmanager
async def _discarded_if_closed(proxied: PoolProxiedConnection) -> AsyncIterator[asyncpg.Connection]:
    """The asyncpg connection of ``proxied``; after an error, invalidated when it is found closed."""
    connection = proxied.driver_connection
    try:
        yield connection
    except asyncpg.InterfaceError as error:
        if connection is None or connection.is_closed():
            # Closed between the checkout's look and the statement (a restart at that moment): an
            # outage of Postgres (503 with Retry-After), as a connection lost mid-statement is.
            await greenlet_spawn(proxied.invalidate)
            raise asyncpg.ConnectionDoesNotExistError("the database closed the connection") from error
        raise
    except BaseException:
        if connection is None or connection.is_closed():
            await greenlet_spawn(proxied.invalidate)
        raise


class HeldConnections:
    """Connections of ``engine``'s pool kept checked out between statements, for a caller that runs one
    statement after another all day (the relay's claim loop and sweep).

    A checkout from SQLAlchemy's pool and its return each run in a greenlet of their own (the pool is
    synchronous code), which cost the worker about a twentieth of its CPU per claim. Here a connection
    is taken from the pool once and kept (up to ``keep`` of them, one per caller claiming at the same
    moment); one the server closed is discarded and replaced from the pool, as at a checkout
    (``discard_closed_connections``). ``close`` gives them back to the pool."""

    def __init__(self, engine: AsyncEngine, keep: int = 2) -> None:
        self._engine = engine
        self._keep = keep
        self._idle: list[PoolProxiedConnection] = []

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        proxied = await self._take()
        try:
            async with _discarded_if_closed(proxied) as connection:
                yield connection
        except BaseException:
            # Discarded when closed; otherwise a statement cut short (cancelled, timed out) may have
            # left it busy, and the pool resets it.
            await greenlet_spawn(proxied.close)
            raise
        if connection is not None and len(self._idle) < self._keep and not connection.is_closed():
            self._idle.append(proxied)
        else:
            await greenlet_spawn(proxied.close)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for proxied in idle:
            await greenlet_spawn(proxied.close)

    async def _take(self) -> PoolProxiedConnection:
        while self._idle:
            proxied = self._idle.pop()
            driver = proxied.driver_connection
            if driver is not None and not driver.is_closed():
                return proxied
            await greenlet_spawn(proxied.invalidate)
        return await self._engine.raw_connection()
