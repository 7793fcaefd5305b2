"""Idempotency keys in Postgres: a claim left in flight by a request that can no longer finish (its
process died, or freeing the key failed with the database) is freed by its lease; a completed key is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.persistence.idempotency import IN_FLIGHT_LEASE, SqlaIdempotencyStore
from application.ports.idempotency import KeyState, StoredResponse

T0 = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)
TTL = timedelta(hours=24)


async def test_a_claim_left_in_flight_is_freed_when_its_lease_ends(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    store = SqlaIdempotencyStore(session_factory)
    assert (await store.claim("user", "key", "fp", T0, TTL)).state is KeyState.NEW

    within = await store.claim("user", "key", "fp", T0 + IN_FLIGHT_LEASE - timedelta(seconds=1), TTL)
    after = await store.claim("user", "key", "fp", T0 + IN_FLIGHT_LEASE, TTL)

    assert within.state is KeyState.IN_FLIGHT
    assert after.state is KeyState.NEW


async def test_a_completed_key_outlives_the_in_flight_lease(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    store = SqlaIdempotencyStore(session_factory)
    await store.claim("user", "done", "fp", T0, TTL)
    await store.complete("user", "done", StoredResponse(202, b"{}", {}))

    later = await store.claim("user", "done", "fp", T0 + IN_FLIGHT_LEASE * 10, TTL)

    assert later.state is KeyState.REPLAY
