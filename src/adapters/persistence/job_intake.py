"""The upload path's statements (`application.ports.job_intake`), run on asyncpg directly.

An upload used to take four transactions through the ORM; here its reads are one query and its writes
one statement, each a single round trip in autocommit (a statement commits atomically on its own, so
no BEGIN or COMMIT travels). The write is one ``INSERT`` with data-modifying CTEs: the job, the outbox
row, the result's words, the idempotency key's response, then the owner's feed counter and the events
numbered from it. The counter row serialises a user's events until commit; its upsert runs last in the
statement (after the other rows are written), so it is held only for the end of the statement and the
commit, never across a round trip to this process.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.persistence.connections import driver_connection
from adapters.persistence.idempotency import claim_ctes, claim_outcome, claim_values
from adapters.persistence.job_repositories import FEED_PLACES_SQL, result_to_json
from application.analysis.live_events import announce
from application.ports.analysis import JobEventPublisher
from application.ports.idempotency import IdempotencyReceipt, KeyClaimRequest, KeyState, KeyTakenError
from application.ports.job_intake import IntakeReference, ReuseQuery
from domain.analysis.jobs import Job, JobEvent
from domain.analysis.outbox import OutboxMessage
from domain.catalog import ReferenceKind, reference_version
from domain.errors import ConflictError

_REFERENCE = """
SELECT i.kind, i.reference_audio_key, i.text, w.indexes, w.texts, w.starts, w.ends{reuse_columns}
FROM practice_items AS i
LEFT JOIN LATERAL (
    SELECT array_agg(index ORDER BY index) AS indexes, array_agg(text ORDER BY index) AS texts,
           array_agg(start ORDER BY index) AS starts, array_agg("end" ORDER BY index) AS ends
    FROM words WHERE item_id = i.id
) AS w ON true{reuse_join}
WHERE i.id = $1
"""
# The newest completed job per reference version analysed from the same recording and features; the
# caller picks the one of the item's current reference version (computed from the item's columns).
_REUSE_JOIN = """
LEFT JOIN LATERAL (
    SELECT array_agg(newest.id) AS ids, array_agg(newest.reference_version) AS versions
    FROM (
        SELECT DISTINCT ON (j.reference_version) j.id, j.reference_version
        FROM jobs AS j
        WHERE j.user_id = $2 AND j.item_id = i.id AND j.kind = i.kind AND j.status = 'completed'
          AND j.recording_sha256 = $3 AND j.feature_version = $4
        ORDER BY j.reference_version, j.created_at DESC
    ) AS newest
) AS r ON true"""
REFERENCE_SQL = _REFERENCE.format(reuse_columns="", reuse_join="")
REFERENCE_WITH_REUSE_SQL = _REFERENCE.format(reuse_columns=", r.ids, r.versions", reuse_join=_REUSE_JOIN)


# A reference query with the idempotency key's claim in the same statement: one row, the claim's
# outcome beside the item's columns (NULLs when there is no item).
_CLAIMING = """WITH {claim}
SELECT claim.*, item.*
FROM (SELECT 1) AS one
LEFT JOIN claim ON true
LEFT JOIN ({reference}) AS item ON true"""


def _claiming(reference_sql: str, parameters: int) -> str:
    """``reference_sql``, which has ``parameters`` of its own, claiming the key too."""
    return _CLAIMING.format(claim=claim_ctes(parameters + 1), reference=reference_sql)


CLAIMING_REFERENCE_SQL = _claiming(REFERENCE_SQL, 1)
CLAIMING_REFERENCE_WITH_REUSE_SQL = _claiming(REFERENCE_WITH_REUSE_SQL, 4)

# One text for every job (asyncpg prepares it once per connection); a part a job does not need gets
# NULLs and writes nothing: no outbox row ($29 NULL: a reused result), no words (NULL arrays), no
# receipt (no key sent). $1-$23 are the job's columns, $24-$28 its events.
_ACCEPT = """
WITH job AS (
    INSERT INTO jobs (
        id, user_id, kind, item_id, status, recording_key, recording_content_type, recording_duration,
        recording_size, progress, stage, failure_code, failure_reason, result, overall_score, deadline_at,
        last_sequence, created_at, updated_at, recording_sha256, reference_version, feature_version,
        reused_from
    ) VALUES (
        $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
        $22, $23
    ) RETURNING id, user_id
), outbox AS (
    INSERT INTO outbox (id, job_id, attempts, next_attempt_at, created_at, updated_at, traceparent)
    SELECT $29, job.id, $30, $31, $32, $32, $33 FROM job WHERE $29::uuid IS NOT NULL
    RETURNING 1
), words AS (
    INSERT INTO job_word_results (job_id, index, text, start, "end", score, status)
    SELECT job.id, w.* FROM job,
        unnest($34::int[], $35::text[], $36::float8[], $37::float8[], $38::float8[], $39::text[]) AS w
    RETURNING 1
), receipt AS (
    UPDATE idempotency_keys
    SET state = 'completed', response_status = $40, response_body = $41, response_headers = $42
    WHERE scope = $43 AND key = $44
    RETURNING 1
), counter AS (
    -- Last: the rows above are written before the user's counter row is locked until the commit.
    {counter}
)
INSERT INTO job_events (job_id, sequence, type, data, created_at, user_id, feed_sequence)
SELECT $1, e.sequence, e.type, e.data, e.created_at, $2, counter.last_sequence - $24::bigint + e.place
FROM counter,
    unnest($25::int[], $26::text[], $27::jsonb[], $28::timestamptz[])
        WITH ORDINALITY AS e(sequence, type, data, created_at, place)
RETURNING sequence, feed_sequence
"""
ACCEPT_SQL = _ACCEPT.format(
    counter=FEED_PLACES_SQL.format(
        given="""SELECT job.user_id, $24::bigint FROM job
    WHERE (SELECT count(*) FROM outbox) >= 0 AND (SELECT count(*) FROM words) >= 0
      AND (SELECT count(*) FROM receipt) >= 0"""
    )
)


def _json(value: Any) -> str | None:
    """jsonb parameters as text, as SQLAlchemy's asyncpg codec on these connections takes them."""
    return None if value is None else msgspec.json.encode(value).decode()


def _job_values(job: Job) -> list[Any]:
    recording, inputs, result = job.recording, job.inputs, job.result
    return [
        job.id, job.user_id, job.kind.value, job.item_id, job.status.value,
        recording.key if recording else None,
        recording.content_type if recording else None,
        recording.duration_seconds if recording else None,
        recording.size if recording else None,
        job.progress, job.stage, job.failure_code, job.failure_reason,
        _json(result_to_json(result)) if result else None,
        result.overall if result else None,
        job.deadline_at, job.last_sequence, job.created_at, job.updated_at,
        inputs.recording_sha256 if inputs else None,
        inputs.reference_version if inputs else None,
        inputs.feature_version if inputs else None,
        job.reused_from,
    ]  # fmt: skip


class AsyncpgJobIntake:
    def __init__(self, engine: AsyncEngine, publisher: JobEventPublisher) -> None:
        self._engine = engine
        self._publisher = publisher

    async def reference(
        self, item_id: UUID, reuse: ReuseQuery | None = None, claim: KeyClaimRequest | None = None
    ) -> IntakeReference | None:
        values: list[Any] = [item_id]
        if reuse is not None:
            values += [reuse.user_id, reuse.recording_sha256, reuse.feature_version]
        if claim is None:
            sql = REFERENCE_SQL if reuse is None else REFERENCE_WITH_REUSE_SQL
        else:
            sql = CLAIMING_REFERENCE_SQL if reuse is None else CLAIMING_REFERENCE_WITH_REUSE_SQL
            values += claim_values(claim)
        async with driver_connection(self._engine) as connection:
            row = await connection.fetchrow(sql, *values)
        if claim is not None:
            outcome = claim_outcome(row, claim.fingerprint)
            if outcome.state is not KeyState.NEW:
                raise KeyTakenError(outcome)
        if row is None or row["kind"] is None:
            return None
        version = None
        if row["reference_audio_key"] is not None:
            timings = zip(
                row["indexes"] or (), row["texts"] or (), row["starts"] or (), row["ends"] or (), strict=True
            )
            version = reference_version(row["reference_audio_key"], row["text"], timings)
        reusable = (
            dict(zip(row["versions"] or (), row["ids"] or (), strict=True)) if reuse is not None else {}
        )
        return IntakeReference(ReferenceKind(row["kind"]), version, reusable)

    async def accept(
        self, job: Job, outbox: OutboxMessage | None, receipt: IdempotencyReceipt[Job] | None = None
    ) -> None:
        events = list(job.pending_events)
        words = job.result.words if job.result is not None else []
        values = _job_values(job)
        values += [
            len(events),
            [e.sequence for e in events],
            [e.type.value for e in events],
            [_json(e.data) for e in events],
            [e.created_at for e in events],
        ]
        values += (
            [
                outbox.id,
                outbox.attempts,
                outbox.next_attempt_at or outbox.created_at,
                outbox.created_at,
                outbox.traceparent,
            ]
            if outbox is not None
            else [None] * 5
        )
        values += (
            [
                [w.index for w in words],
                [w.text for w in words],
                [w.start for w in words],
                [w.end for w in words],
                [w.score for w in words],
                [w.status.value for w in words],
            ]
            if words
            else [None] * 6
        )
        if receipt is not None:
            response = receipt.response(job)
            values += [
                response.status_code,
                response.body,
                _json(response.headers),
                receipt.scope,
                receipt.key,
            ]
        else:
            values += [None] * 5
        try:
            async with driver_connection(self._engine) as connection:
                rows = await connection.fetch(ACCEPT_SQL, *values)
        except asyncpg.IntegrityConstraintViolationError as error:
            raise ConflictError("the change conflicts with existing data") from error
        places = {row["sequence"]: row["feed_sequence"] for row in rows}
        stored: list[JobEvent] = [replace(e, feed_sequence=places[e.sequence]) for e in events]
        job.pending_events.clear()
        await announce(self._publisher, stored)
