"""The Postgres idempotency store: a key is claimed once, replays what completed it, and is as good as
unused once expired (the claim takes an expired row over in the same statement); a claim left in flight
by a request that can no longer finish (its process died, or freeing the key failed with the database)
is freed by its lease; a completed key is not."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.persistence.idempotency import IN_FLIGHT_LEASE, PostgresIdempotencyStore
from application.ports.idempotency import KeyState, StoredResponse

T0 = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
TTL = timedelta(hours=24)


async def test_a_claim_left_in_flight_is_freed_when_its_lease_ends(
    engine: AsyncEngine,
) -> None:
    store = PostgresIdempotencyStore(engine)
    assert (await store.claim("user", "key", "fp", T0, TTL)).state is KeyState.NEW

    within = await store.claim("user", "key", "fp", T0 + IN_FLIGHT_LEASE - timedelta(seconds=1), TTL)
    after = await store.claim("user", "key", "fp", T0 + IN_FLIGHT_LEASE, TTL)

    assert within.state is KeyState.IN_FLIGHT
    assert after.state is KeyState.NEW


async def test_a_completed_key_outlives_the_in_flight_lease(
    engine: AsyncEngine,
) -> None:
    store = PostgresIdempotencyStore(engine)
    await store.claim("user", "done", "fp", T0, TTL)
    await store.complete("user", "done", StoredResponse(202, b"{}", {}))

    later = await store.claim("user", "done", "fp", T0 + IN_FLIGHT_LEASE * 10, TTL)

    assert later.state is KeyState.REPLAY


async def test_a_key_is_claimed_once_then_in_flight_then_replays_its_response(
    engine: AsyncEngine,
) -> None:
    store = PostgresIdempotencyStore(engine)

    first = await store.claim("user", "key-1", "print", NOW, TTL)
    during = await store.claim("user", "key-1", "print", NOW, TTL)
    await store.complete("user", "key-1", StoredResponse(202, b'{"id": 1}', {"Location": "/jobs/1"}))
    after = await store.claim("user", "key-1", "print", NOW, TTL)
    other_payload = await store.claim("user", "key-1", "another print", NOW, TTL)

    assert (first.state, during.state, other_payload.state) == (
        KeyState.NEW,
        KeyState.IN_FLIGHT,
        KeyState.MISMATCH,
    )
    assert after.state is KeyState.REPLAY
    assert after.response == StoredResponse(202, b'{"id": 1}', {"Location": "/jobs/1"})


async def test_an_expired_key_is_claimed_anew_with_the_new_payload_and_no_old_response(
    engine: AsyncEngine,
) -> None:
    store = PostgresIdempotencyStore(engine)
    await store.claim("user", "key-1", "old print", NOW, TTL)
    await store.complete("user", "key-1", StoredResponse(202, b"old", {}))

    later = NOW + TTL + timedelta(seconds=1)
    reclaimed = await store.claim("user", "key-1", "new print", later, TTL)
    again = await store.claim("user", "key-1", "new print", later, TTL)

    assert reclaimed.state is KeyState.NEW
    assert again.state is KeyState.IN_FLIGHT  # the old response is gone, not replayed


async def test_a_released_key_is_free_again_and_keys_are_scoped_to_their_user(
    engine: AsyncEngine,
) -> None:
    store = PostgresIdempotencyStore(engine)
    await store.claim("user", "key-1", "print", NOW, TTL)

    other_user = await store.claim("someone else", "key-1", "print", NOW, TTL)
    await store.release("user", "key-1")
    retried = await store.claim("user", "key-1", "print", NOW, TTL)

    assert (other_user.state, retried.state) == (KeyState.NEW, KeyState.NEW)


async def test_concurrent_claims_of_one_key_let_exactly_one_request_through(engine: AsyncEngine) -> None:
    store = PostgresIdempotencyStore(engine)

    claims = await asyncio.gather(*(store.claim("user", "raced", "print", NOW, TTL) for _ in range(8)))

    states = sorted(claim.state.value for claim in claims)
    assert states == [KeyState.IN_FLIGHT.value] * 7 + [KeyState.NEW.value]


async def test_pruning_deletes_only_expired_keys_and_counts_them(engine: AsyncEngine) -> None:
    store = PostgresIdempotencyStore(engine)
    await store.claim("user", "old", "print", NOW - TTL - timedelta(seconds=1), TTL)
    await store.claim("user", "fresh", "print", NOW, TTL)

    assert await store.prune(NOW) == 1
    assert (await store.claim("user", "fresh", "print", NOW, TTL)).state is KeyState.IN_FLIGHT
