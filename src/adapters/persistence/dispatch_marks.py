"""The relay's mark of a batch of delivered rows, run on asyncpg directly (``OutboxClaims.mark_dispatched``).

It used to be a transaction of seven round trips through the ORM (BEGIN, mark the rows, load their jobs
for update, write them, take the owners' feed places, insert the events, COMMIT). Here it is one
statement in autocommit with data-modifying CTEs: the rows still unsent are locked in id order and
marked; their jobs to record as dispatched are locked in id order and moved by the rules of
``Job.mark_dispatched`` (only a queued job moves on, with a ``dispatched`` event and the deadline of its
kind; a processing one keeps the sooner deadline; a job in any other state, completed by its webhook
already for one, is left alone); then the owners' feed counters are taken in user id order and the
events inserted with their places. Locks are taken in the order the unit of work takes them (outbox
rows, jobs, feed counters), so this cannot deadlock with a webhook or an upload; the counters are
locked last, for the end of the statement only.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from uuid import UUID

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.persistence.connections import driver_connection
from application.analysis.live_events import announce
from application.ports.analysis import JobEventPublisher
from domain.analysis.jobs import EventType, JobEvent, dispatched_event_data
from domain.catalog import ReferenceKind

# $1 row ids, $2 their last errors, $3 whether their job is to be recorded dispatched (same order);
# $4 now; $5 kinds and $6 their analysis deadlines; $7 the dispatched event's data. The job's rule,
# as in Job.mark_dispatched: queued -> dispatched; processing keeps the sooner deadline (the states'
# values, JobStatus, spelled out; tests/integration/pipeline/test_dispatch_marks.py holds the two equal).
MARK_DISPATCHED_SQL = """
WITH marks AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::bool[]) AS m(id, last_error, dispatch)
), unsent AS (
    -- Looked up by primary key: filtered on sent_at instead, Postgres's generic plan read the unsent
    -- rows' partial index, which under load holds thousands of dead entries (every claim and mark moves
    -- a row in it) that a bitmap scan never marks dead.
    SELECT o.id FROM unnest($1::uuid[]) AS given(id) JOIN outbox AS o ON o.id = given.id
    WHERE o.sent_at IS NULL
    ORDER BY o.id FOR UPDATE OF o
), marked AS (
    UPDATE outbox AS o SET sent_at = $4, last_error = marks.last_error, leased_by = NULL, updated_at = $4
    FROM marks WHERE o.id = marks.id AND o.id IN (SELECT id FROM unsent)
    RETURNING o.job_id, marks.dispatch
), locked AS (
    SELECT j.id FROM jobs AS j
    WHERE j.id IN (SELECT job_id FROM marked WHERE dispatch)
      AND j.status IN ('queued', 'processing')
    ORDER BY j.id FOR UPDATE
), moved AS (
    UPDATE jobs AS j SET
        status = CASE WHEN j.status = 'queued' THEN 'dispatched' ELSE j.status END,
        stage = CASE WHEN j.status = 'queued' THEN 'dispatched' ELSE j.stage END,
        last_sequence = j.last_sequence + CASE WHEN j.status = 'queued' THEN 1 ELSE 0 END,
        deadline_at = CASE
            WHEN j.status = 'queued' OR j.deadline_at IS NULL OR $4 + d.deadline < j.deadline_at
            THEN $4 + d.deadline ELSE j.deadline_at END,
        updated_at = CASE
            WHEN j.status = 'queued' OR j.deadline_at IS NULL OR $4 + d.deadline < j.deadline_at
            THEN $4 ELSE j.updated_at END
    FROM unnest($5::text[], $6::interval[]) AS d(kind, deadline)
    WHERE j.id IN (SELECT id FROM locked) AND j.kind = d.kind
      AND j.status IN ('queued', 'processing')
    RETURNING j.id, j.user_id, j.last_sequence, j.status
), counts AS (
    SELECT user_id, count(*) AS n FROM moved WHERE status = 'dispatched' GROUP BY user_id
), counter AS (
    -- Last: the owners' counters stay locked until the commit, which is the end of this statement.
    INSERT INTO user_event_counters AS c (user_id, last_sequence)
    SELECT user_id, n FROM counts ORDER BY user_id
    ON CONFLICT (user_id) DO UPDATE SET last_sequence = c.last_sequence + excluded.last_sequence
    RETURNING c.user_id, c.last_sequence
)
INSERT INTO job_events (job_id, sequence, type, data, created_at, user_id, feed_sequence)
SELECT m.id, m.last_sequence, 'dispatched', $7::jsonb, $4, m.user_id,
       counter.last_sequence - counts.n + row_number() OVER (PARTITION BY m.user_id ORDER BY m.id)
FROM moved AS m JOIN counts USING (user_id) JOIN counter USING (user_id)
WHERE m.status = 'dispatched'
RETURNING job_id, sequence, user_id, feed_sequence
"""


async def mark_dispatched(
    engine: AsyncEngine,
    publisher: JobEventPublisher,
    last_errors: Mapping[UUID, str | None],
    dispatched: Collection[UUID],
    now: datetime,
    deadlines: Mapping[ReferenceKind, timedelta],
) -> list[JobEvent]:
    """Run the mark (see the module) and publish the ``dispatched`` events it recorded; answer them."""
    if not last_errors:
        return []
    ids = sorted(last_errors)
    data = dispatched_event_data()
    kinds = list(deadlines)
    async with driver_connection(engine) as connection:
        rows = await connection.fetch(
            MARK_DISPATCHED_SQL,
            ids,
            [last_errors[message_id] for message_id in ids],
            [message_id in dispatched for message_id in ids],
            now,
            [kind.value for kind in kinds],
            [deadlines[kind] for kind in kinds],
            # jsonb parameters as text, as SQLAlchemy's asyncpg codec on these connections takes them.
            msgspec.json.encode(data).decode(),
        )
    events = [
        JobEvent(
            row["job_id"], row["sequence"], EventType.DISPATCHED, dict(data), now, row["user_id"],
            row["feed_sequence"],
        )
        for row in sorted(rows, key=lambda row: (row["user_id"], row["feed_sequence"]))
    ]  # fmt: skip
    await announce(publisher, events)
    return events
