"""A worker's liveness as Postgres sees it: a session-level advisory lock held for the process's life.

A claimed outbox row records its holder's lock id (``outbox.leased_by``). A worker killed in the middle
of a dispatch loses its connection, and Postgres releases its lock at once; the next claim by any other
worker then takes the row without waiting out the lease (which is there for holders that are alive but
slow, and for rows leased before this column existed). A holder whose lock connection the database
dropped (a restart) takes its lock again before its next claim, or, if it had not noticed yet, after
the claim that found its lock gone: such a claim leases its rows without a holder, for the whole lease,
so no other worker takes them as orphaned meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

logger = logging.getLogger(__name__)

# First key of the two-int advisory locks that mark live relays; the holder's id is the second.
LOCK_NAMESPACE = 0x56505243  # "VPRC"

# The namespace is written out (1448104515 = 0x56505243); a test checks the two agree. Advisory locks are
# per database: a lock on the same ids in another database of the server (another deployment, a test
# run) says nothing about this one's holders.
_HOLDER_LOCK = """EXISTS (
    SELECT 1 FROM pg_locks AS holder_lock
    WHERE holder_lock.locktype = 'advisory' AND holder_lock.granted AND holder_lock.objsubid = 2
      AND holder_lock.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND holder_lock.classid = 1448104515::oid AND holder_lock.objid = {holder}::oid
)"""
ORPHANED = "NOT " + _HOLDER_LOCK.format(holder="outbox.leased_by")
"""SQL true for an outbox row whose holder's lock is gone (the worker died); use with ``leased_by`` set."""
HELD = _HOLDER_LOCK.format(holder="CAST(:holder AS integer)")
"""SQL true while the lock of holder ``:holder`` is held: a claim records its holder only then, so no row
is ever leased by a holder whose lock is gone (which another worker would take as orphaned at once)."""

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

    async def lost(self, holder: int) -> None:
        """A claim found ``holder``'s lock gone before this process noticed its connection closed (the
        database dropped it): the next claim takes a lock again."""
        async with self._guard:
            if self._id == holder:
                logger.warning("lease holder %d lost its lock; taking one again", holder)
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
