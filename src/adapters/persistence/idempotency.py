"""Idempotency keys in Postgres; each call is its own short transaction so other requests see it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.persistence.models import IdempotencyKeyRow
from application.ports.idempotency import KeyClaim, KeyState, StoredResponse

IN_FLIGHT = "in_flight"
COMPLETED = "completed"
# A claim still in flight after this long belongs to a request that can no longer finish: its process
# died, or its release failed with the database and was given up. A request's own work (storage calls
# bounded to 8 s, a transaction) ends well within it, so a live request is never overtaken.
IN_FLIGHT_LEASE = timedelta(seconds=60)


class SqlaIdempotencyStore:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    async def claim(self, scope: str, key: str, fingerprint: str, now: datetime, ttl: timedelta) -> KeyClaim:
        async with self._sessions() as session, session.begin():
            # One statement claims an unused key, an expired one and one whose request is long gone
            # alike: the insert, or on conflict the takeover of that row.
            fresh = {
                "fingerprint": fingerprint,
                "state": IN_FLIGHT,
                "created_at": now,
                "expires_at": now + ttl,
                "response_status": None,
                "response_body": None,
                "response_headers": None,
            }
            statement = insert(IdempotencyKeyRow).values(scope=scope, key=key, **fresh)
            claimed = await session.scalar(
                statement.on_conflict_do_update(
                    index_elements=["scope", "key"],
                    set_=fresh,
                    where=or_(
                        IdempotencyKeyRow.expires_at <= now,
                        and_(
                            IdempotencyKeyRow.state == IN_FLIGHT,
                            IdempotencyKeyRow.created_at <= now - IN_FLIGHT_LEASE,
                        ),
                    ),
                ).returning(IdempotencyKeyRow.key)
            )
            if claimed is not None:
                return KeyClaim(KeyState.NEW)
            row = await session.scalar(
                select(IdempotencyKeyRow).where(
                    IdempotencyKeyRow.scope == scope, IdempotencyKeyRow.key == key
                )
            )
        if row is None:  # released between our insert and select: treat as in flight, the client retries
            return KeyClaim(KeyState.IN_FLIGHT)
        if row.fingerprint != fingerprint:
            return KeyClaim(KeyState.MISMATCH)
        if row.state != COMPLETED or row.response_status is None:
            return KeyClaim(KeyState.IN_FLIGHT)
        return KeyClaim(
            KeyState.REPLAY,
            StoredResponse(row.response_status, row.response_body or b"", dict(row.response_headers or {})),
        )

    async def complete(self, scope: str, key: str, response: StoredResponse) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(IdempotencyKeyRow)
                .where(IdempotencyKeyRow.scope == scope, IdempotencyKeyRow.key == key)
                .values(
                    state=COMPLETED,
                    response_status=response.status_code,
                    response_body=response.body,
                    response_headers=response.headers,
                )
                .execution_options(synchronize_session=False)
            )

    async def release(self, scope: str, key: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                delete(IdempotencyKeyRow).where(
                    IdempotencyKeyRow.scope == scope,
                    IdempotencyKeyRow.key == key,
                    IdempotencyKeyRow.state == IN_FLIGHT,
                )
            )

    async def prune(self, now: datetime) -> int:
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                delete(IdempotencyKeyRow).where(IdempotencyKeyRow.expires_at <= now)
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
