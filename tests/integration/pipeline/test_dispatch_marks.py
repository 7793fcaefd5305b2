"""The relay's batch mark (one statement: adapters/persistence/dispatch_marks.py) against real Postgres:
it applies Job.mark_dispatched's rules to every job it touches, numbers the events in the jobs and in
their owner's feed, and keeps the feed gapless when marks and other transactions run at once."""

from __future__ import annotations

import asyncio
from copy import deepcopy
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from adapters.persistence.job_repositories import SqlaOutboxClaims
from domain.analysis.jobs import EventType, FailureCode, Job, JobEvent, JobStatus
from domain.catalog import ReferenceKind
from entrypoints.bootstrap import Container
from tests.support.pipeline import Catalog, QueuedJob, QueueJob, load_job, load_message
from tests.support.pipeline_fakes import RecordingPublisher

DEADLINES = {ReferenceKind.TOKEN: timedelta(minutes=10), ReferenceKind.SCRIPT: timedelta(minutes=30)}


def recording_claims(container: Container) -> tuple[SqlaOutboxClaims, RecordingPublisher]:
    publisher = RecordingPublisher()
    return SqlaOutboxClaims(container.claims_engine, publisher), publisher


async def change(container: Container, queued: QueuedJob, how: str, now: datetime) -> None:
    """Move a queued job on as a webhook (or the relay's own earlier mark) would."""
    async with container.unit_of_work() as uow:
        job = await uow.jobs.get_for_update(queued.job_id)
        assert job is not None
        if how == "processing":
            job.start(now)
        elif how == "processing, far deadline":
            job.start(now)
            job.deadline_at = now + timedelta(days=1)
        elif how == "dispatched":
            job.mark_dispatched(now, timedelta(minutes=5))
        elif how == "failed":
            job.fail(FailureCode.ANALYSIS_FAILED, "the analysis failed", now)
        await uow.jobs.save(job)
        await uow.commit()


async def events_of(container: Container, job: Job) -> list[JobEvent]:
    async with container.unit_of_work() as uow:
        return await uow.job_events.list_after(job.id, 0)


async def test_the_batch_mark_moves_each_job_as_the_domain_would(
    container: Container, queue_job: QueueJob
) -> None:
    """Queued moves on with an event; processing keeps the sooner deadline; dispatched or finished
    (completed by its webhook before the mark, say) is not moved back."""
    start = datetime.now(UTC)
    states = ["queued", "processing", "processing, far deadline", "dispatched", "failed"]
    queued = {state: await queue_job() for state in states}
    for state, job in queued.items():
        await change(container, job, state, start)
    before = {state: await load_job(container, job.job_id) for state, job in queued.items()}
    now = start + timedelta(seconds=2)
    claims, publisher = recording_claims(container)

    await claims.mark_dispatched(
        {job.outbox_id: None for job in queued.values()},
        {job.outbox_id for job in queued.values()},
        now,
        DEADLINES,
    )

    for state, job in queued.items():
        expected = deepcopy(before[state])
        expected.mark_dispatched(now, DEADLINES[ReferenceKind.TOKEN])
        stored = await load_job(container, job.job_id)
        assert (stored.status, stored.stage, stored.deadline_at, stored.last_sequence, stored.updated_at) == (
            expected.status, expected.stage, expected.deadline_at, expected.last_sequence, expected.updated_at,
        ), state  # fmt: skip
        new = [e for e in await events_of(container, stored) if e.sequence > before[state].last_sequence]
        assert [(e.sequence, e.type, e.data, e.created_at, e.user_id) for e in new] == [
            (e.sequence, e.type, e.data, e.created_at, e.user_id) for e in expected.pending_events
        ], state
        assert (await load_message(container, job.outbox_id)).sent_at == now
    moved = await load_job(container, queued["queued"].job_id)
    assert moved.status is JobStatus.DISPATCHED
    assert [(e.job_id, e.type, e.sequence) for e in publisher.events] == [
        (moved.id, EventType.DISPATCHED, moved.last_sequence)
    ]
    [stored_event] = [e for e in await events_of(container, moved) if e.type is EventType.DISPATCHED]
    assert stored_event == publisher.events[0]
    assert stored_event.data == {"status": "dispatched", "stage": "dispatched"}
    assert stored_event.user_id == moved.user_id


async def test_rows_settled_without_a_request_and_rows_already_sent_move_no_job(
    container: Container, queue_job: QueueJob
) -> None:
    skipped, already, sent = await queue_job(), await queue_job(), await queue_job()
    now = datetime.now(UTC)
    claims, publisher = recording_claims(container)
    await claims.mark_dispatched({already.outbox_id: None}, set(), now, DEADLINES)

    await claims.mark_dispatched(
        {skipped.outbox_id: "job no longer needs analysis", already.outbox_id: None, sent.outbox_id: None},
        {already.outbox_id, sent.outbox_id},
        now + timedelta(seconds=1),
        DEADLINES,
    )

    assert (await load_job(container, skipped.job_id)).status is JobStatus.QUEUED
    assert (await load_job(container, already.job_id)).status is JobStatus.QUEUED  # its row was sent before
    assert (await load_job(container, sent.job_id)).status is JobStatus.DISPATCHED
    skipped_row, already_row = (
        await load_message(container, skipped.outbox_id),
        await load_message(container, already.outbox_id),
    )
    assert (skipped_row.sent_at, skipped_row.last_error) == (
        now + timedelta(seconds=1),
        "job no longer needs analysis",
    )
    assert already_row.sent_at == now
    assert [e.job_id for e in publisher.events] == [sent.job_id]

    # Marking again (the relay retries a failed mark at once) changes nothing and records nothing.
    await claims.mark_dispatched(
        {sent.outbox_id: None}, {sent.outbox_id}, now + timedelta(seconds=2), DEADLINES
    )
    assert [e.job_id for e in publisher.events] == [sent.job_id]
    assert [e.type for e in await events_of(container, await load_job(container, sent.job_id))] == [
        EventType.QUEUED,
        EventType.DISPATCHED,
    ]


async def test_concurrent_marks_and_other_events_keep_the_owners_feed_gapless(
    container: Container, queue_job: QueueJob, catalog: Catalog
) -> None:
    """Four batches marked at once, while other transactions record events of the same user: each
    event has its own place in the user's feed, the places run 1..n without a gap, and each job's
    ``dispatched`` event follows its ``queued`` one."""
    batches = [[await queue_job() for _ in range(5)] for _ in range(4)]
    others = [await queue_job() for _ in range(4)]
    now = datetime.now(UTC)
    claims, publisher = recording_claims(container)

    async def mark(batch: list[QueuedJob]) -> None:
        await claims.mark_dispatched(
            {job.outbox_id: None for job in batch}, {job.outbox_id for job in batch}, now, DEADLINES
        )

    await asyncio.gather(
        *(mark(batch) for batch in batches), *(change(container, job, "processing", now) for job in others)
    )

    async with container.engine.connect() as connection:
        rows = (
            await connection.execute(
                text("SELECT job_id, sequence, type, feed_sequence FROM job_events WHERE user_id = :user"),
                {"user": catalog.user.user_id},
            )
        ).all()
    places = sorted(row.feed_sequence for row in rows)
    assert places == list(range(1, len(rows) + 1))
    dispatched = {row.job_id: row for row in rows if row.type == "dispatched"}
    assert set(dispatched) == {job.job_id for batch in batches for job in batch}
    assert all(row.sequence == 2 for row in dispatched.values())
    queued_places = {row.job_id: row.feed_sequence for row in rows if row.type == "queued"}
    assert all(row.feed_sequence > queued_places[job_id] for job_id, row in dispatched.items())
    assert sorted((e.job_id, e.feed_sequence) for e in publisher.events) == sorted(
        (job_id, row.feed_sequence) for job_id, row in dispatched.items()
    )
