"""A worker's liveness as Postgres sees it: a session-level advisory lock held for the process's life.

A claimed outbox row records its holder's lock id (``outbox.leased_by``). A worker killed in the middle
of a dispatch loses its connection, and Postgres releases its lock at once; the next claim by any other
worker then takes the row without waiting out the lease (which is there for holders that are alive but
slow, and for rows leased before this column existed). A holder whose lock connection the database
dropped (a restart) takes its lock again before its next claim; in between, another worker may claim
its rows early, a duplicate dispatch the at-least-once protocol allows (the analysis server recognises
the job id).
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

# First key of the two-int advisory locks that mark live relays; the holder's id is the second.
LOCK_NAMESPACE = 0x56505243  # "VPRC"

# The namespace is written out (1448104515 = 0x56505243); a test checks the two agree.
ORPHANED = """NOT EXISTS (
    SELECT 1 FROM pg_locks AS holder_lock
    WHERE holder_lock.locktype = 'advisory' AND holder_lock.granted AND holder_lock.objsubid = 2
      AND holder_lock.classid = 1448104515::oid AND holder_lock.objid = outbox.leased_by::oid
)"""
"""SQL true for an outbox row whose holder's lock is gone (the worker died); use with ``leased_by`` set."""

_TAKE = text("SELECT pg_try_advisory_lock(:namespace, :holder)")


class LeaseHolder:
    """This process's lock id, its lock taken (again) on a connection of its own when needed."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._id: int | None = None
        self._connection: AsyncConnection | None = None
        self._driver: Any = None
        self._guard = asyncio.Lock()

    async def holder_id(self) -> int:
        """The id whose lock this process holds now, taking it first if it does not."""
        async with self._guard:
            if self._id is not None and self._connection is not None and self._alive():
                return self._id
            await self._release()
            connection = await self._engine.connect()
            # The driver's connection, read before the detach (a detached connection no longer names it).
            self._driver = (await connection.get_raw_connection()).driver_connection
            # Out of the pool: returned to it, the connection would keep the lock (a session's lock
            # outlives its transactions) while serving other work; detached, closing it ends the session.
            await connection.run_sync(lambda synchronous: synchronous.detach())
            try:
                while True:
                    candidate = self._id or secrets.randbelow(2**31 - 2) + 1
                    taken = await connection.scalar(_TAKE, {"namespace": LOCK_NAMESPACE, "holder": candidate})
                    if taken:
                        break
                    self._id = None  # held by another session (a collision, or our old one lingering)
            except BaseException:
                await connection.close()
                raise
            self._id, self._connection = candidate, connection
            return candidate

    async def close(self) -> None:
        async with self._guard:
            await self._release()

    def _alive(self) -> bool:
        """Whether the lock's connection is still open, without a round trip (asyncpg notices a closed
        socket; one the server dropped silently is found by the next claim's statement instead, and a
        failed claim changes nothing)."""
        assert self._connection is not None
        if self._connection.closed or self._connection.invalidated or self._driver is None:
            return False
        return not self._driver.is_closed()

    async def _release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                await connection.close()
            except Exception:  # already gone with the database: its lock went with it
                await connection.invalidate()
