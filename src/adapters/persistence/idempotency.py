"""Idempotency keys in Postgres; each call is one statement committing on its own, so other requests see
it at once. A use case may also store a key's response in its own transaction
(`application.ports.idempotency.IdempotencyReceipt`, the upload's `adapters.persistence.job_intake`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.persistence.connections import driver_connection
from application.ports.idempotency import KeyClaim, KeyClaimRequest, KeyState, StoredResponse

IN_FLIGHT = "in_flight"
COMPLETED = "completed"
# A claim still in flight after this long belongs to a request that can no longer finish: its process
# died, or its release failed with the database and was given up. A request's own work (storage calls
# bounded to 8 s, a transaction) ends well within it, so a live request is never overtaken.
IN_FLIGHT_LEASE = timedelta(seconds=60)


# One statement claims an unused key, an expired one and one whose request is long gone alike (the
# insert, or on conflict the takeover of that row); when it claims nothing, the same statement reads the
# row that stopped it. A row another request inserted after this statement's snapshot stopped it but is
# not read: that request is in flight (or just finished), and the answer is "in flight".
# The CTEs ``claimed`` and ``claim`` (the outcome, one row or none), with their six parameters (scope,
# key, fingerprint, now, expiry, lease cut-off) numbered from ``{first}``: the upload's reference read
# puts them before its own query (``adapters.persistence.job_intake``).
_CLAIM_CTES = """
claimed AS (
    INSERT INTO idempotency_keys AS k (
        scope, key, fingerprint, state, created_at, expires_at, response_status, response_body,
        response_headers
    ) VALUES ($1, $2, $3, 'in_flight', $4, $5, NULL, NULL, NULL)
    ON CONFLICT (scope, key) DO UPDATE SET
        fingerprint = excluded.fingerprint, state = excluded.state, created_at = excluded.created_at,
        expires_at = excluded.expires_at, response_status = NULL, response_body = NULL,
        response_headers = NULL
    WHERE k.expires_at <= $4 OR (k.state = 'in_flight' AND k.created_at <= $6)
    RETURNING k.key
), claim AS (
    SELECT true AS claimed, NULL::text AS fingerprint, NULL::text AS state, NULL::int AS response_status,
           NULL::bytea AS response_body, NULL::jsonb AS response_headers
    FROM claimed
    UNION ALL
    SELECT false, fingerprint, state, response_status, response_body, response_headers
    FROM idempotency_keys
    WHERE scope = $1 AND key = $2 AND NOT EXISTS (SELECT 1 FROM claimed)
)"""
CLAIM_PARAMETERS = 6


def claim_ctes(first: int) -> str:
    """The claim's CTEs with their parameters numbered from ``$first``."""
    return re.sub(r"\$(\d)\b", lambda number: f"${int(number[1]) + first - 1}", _CLAIM_CTES)


def claim_values(request: KeyClaimRequest) -> list[Any]:
    """The claim's parameters, in order."""
    return [
        request.scope, request.key, request.fingerprint, request.now, request.now + request.ttl,
        request.now - IN_FLIGHT_LEASE,
    ]  # fmt: skip


def claim_outcome(row: Mapping[str, Any] | None, fingerprint: str) -> KeyClaim:
    """What the claim's row says: claimed, or why not."""
    if row is None or row["claimed"] is None:
        # Released between the insert and the select: treat as in flight, the client retries.
        return KeyClaim(KeyState.IN_FLIGHT)
    if row["claimed"]:
        return KeyClaim(KeyState.NEW)
    if row["fingerprint"] != fingerprint:
        return KeyClaim(KeyState.MISMATCH)
    if row["state"] != COMPLETED or row["response_status"] is None:
        return KeyClaim(KeyState.IN_FLIGHT)
    return KeyClaim(
        KeyState.REPLAY,
        StoredResponse(
            row["response_status"], row["response_body"] or b"", dict(row["response_headers"] or {})
        ),
    )


CLAIM_SQL = f"WITH {claim_ctes(1)}\nSELECT * FROM claim"
COMPLETE_SQL = """
UPDATE idempotency_keys
SET state = 'completed', response_status = $3, response_body = $4, response_headers = $5
WHERE scope = $1 AND key = $2
"""
RELEASE_SQL = "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND state = 'in_flight'"
PRUNE_SQL = "DELETE FROM idempotency_keys WHERE expires_at <= $1"


class PostgresIdempotencyStore:
    """Each call is one statement in autocommit on a pooled connection: one round trip, visible to other
    requests as soon as it returns."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def claim(self, scope: str, key: str, fingerprint: str, now: datetime, ttl: timedelta) -> KeyClaim:
        request = KeyClaimRequest(scope, key, fingerprint, now, ttl)
        async with driver_connection(self._engine) as connection:
            row = await connection.fetchrow(CLAIM_SQL, *claim_values(request))
        return claim_outcome(row, fingerprint)

    async def complete(self, scope: str, key: str, response: StoredResponse) -> None:
        headers = msgspec.json.encode(response.headers).decode()
        async with driver_connection(self._engine) as connection:
            await connection.execute(COMPLETE_SQL, scope, key, response.status_code, response.body, headers)

    async def release(self, scope: str, key: str) -> None:
        async with driver_connection(self._engine) as connection:
            await connection.execute(RELEASE_SQL, scope, key)

    async def prune(self, now: datetime) -> int:
        async with driver_connection(self._engine) as connection:
            status = await connection.execute(PRUNE_SQL, now)
        return int(status.split()[-1])  # "DELETE <count>"
