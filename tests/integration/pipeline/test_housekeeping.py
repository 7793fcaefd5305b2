"""Housekeeping against real Postgres and local storage: overdue jobs, orphaned recordings, pruning."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from uuid_utils.compat import uuid7

from application.analysis.maintenance import TIMED_OUT_REASON
from application.analysis.uploads import recording_key
from domain.analysis.jobs import FailureCode, Job, JobStatus, Recording
from domain.audio import AudioFormat
from domain.catalog import ReferenceKind
from entrypoints.bootstrap import Container
from shared_kernel.webhooks import DEFAULT_TOLERANCE_SECONDS
from tests.support.pipeline import Catalog, QueueJob, load_job, token_job
from tests.support.recordings import tone


def uuid7_at(moment: datetime) -> UUID:
    """A UUIDv7 minted at ``moment``: its first 48 bits are the Unix time in milliseconds."""
    random_and_version_bits = uuid7().int & ((1 << 80) - 1)
    return UUID(int=(int(moment.timestamp() * 1000) << 80) | random_and_version_bits)


async def _dispatched_job(container: Container, catalog: Catalog, deadline_in: timedelta) -> UUID:
    now = datetime.now(UTC)
    job = token_job(catalog, now)
    job_id = job.id
    job.mark_dispatched(now, deadline_in)
    async with container.unit_of_work() as uow:
        await uow.jobs.add(job)
        await uow.commit()
    return job_id


async def test_a_job_past_its_deadline_fails_as_timed_out(container: Container, catalog: Catalog) -> None:
    job_id = await _dispatched_job(container, catalog, deadline_in=timedelta(seconds=-1))

    await container.housekeeping.fail_overdue_jobs()

    job = await load_job(container, job_id)
    assert (job.status, job.failure_code, job.failure_reason) == (
        JobStatus.FAILED,
        FailureCode.TIMED_OUT.value,
        TIMED_OUT_REASON,
    )


async def test_a_job_before_its_deadline_is_left_running(container: Container, catalog: Catalog) -> None:
    job_id = await _dispatched_job(container, catalog, deadline_in=timedelta(minutes=2))

    await container.housekeeping.fail_overdue_jobs()

    assert (await load_job(container, job_id)).status is JobStatus.DISPATCHED


async def _store_recording(container: Container, job_id: UUID) -> str:
    key = recording_key(job_id, AudioFormat.WAV)
    await container.storage.put(key, tone(0.5), "audio/wav")
    return key


async def test_an_old_recording_without_a_job_is_deleted(container: Container) -> None:
    orphan = await _store_recording(container, uuid7_at(datetime.now(UTC) - timedelta(hours=2)))

    removed = await container.housekeeping.remove_orphaned_recordings()

    assert (removed, await container.storage.stat(orphan)) == (1, None)


async def test_a_recent_recording_without_a_job_is_kept(container: Container) -> None:
    # Its upload may still be committing the job row.
    fresh = await _store_recording(container, uuid7_at(datetime.now(UTC) - timedelta(minutes=5)))

    await container.housekeeping.remove_orphaned_recordings()

    assert await container.storage.stat(fresh) is not None


async def test_an_old_recording_whose_job_exists_is_kept(container: Container, queue_job: QueueJob) -> None:
    queued = await queue_job(job_id=uuid7_at(datetime.now(UTC) - timedelta(hours=2)))
    kept = await _store_recording(container, queued.job_id)

    await container.housekeeping.remove_orphaned_recordings()

    assert await container.storage.stat(kept) is not None


async def _mark_sent(container: Container, outbox_id: UUID, sent_at: datetime) -> None:
    async with container.unit_of_work() as uow:
        message = await uow.outbox.get(outbox_id)
        assert message is not None
        await uow.outbox.save(replace(message, sent_at=sent_at))
        await uow.commit()


async def test_pruning_drops_only_rows_sent_before_the_retention(
    container: Container, queue_job: QueueJob
) -> None:
    now = datetime.now(UTC)
    retention = container.pipeline.outbox_retention
    old_sent, recent_sent = await queue_job(), await queue_job()
    old_unsent = await queue_job(created_at=now - retention - timedelta(days=1))
    await _mark_sent(container, old_sent.outbox_id, now - retention - timedelta(hours=1))
    await _mark_sent(container, recent_sent.outbox_id, now - timedelta(hours=1))

    await container.housekeeping.prune()

    async with container.unit_of_work() as uow:
        remaining = {m for m in (old_sent, recent_sent, old_unsent) if await uow.outbox.get(m.outbox_id)}
    assert remaining == {recent_sent, old_unsent}


async def test_pruning_forgets_webhook_ids_only_once_past_the_inbox_retention(container: Container) -> None:
    now = datetime.now(UTC)
    retention = container.pipeline.webhook_inbox_retention
    received = {
        "msg_old": now - retention - timedelta(minutes=1),
        # Older than the signature tolerance, so replays are refused as stale, yet still remembered.
        "msg_past_tolerance": now - timedelta(seconds=DEFAULT_TOLERANCE_SECONDS + 60),
        "msg_recent": now,
    }
    async with container.unit_of_work() as uow:
        for webhook_id, received_at in received.items():
            await uow.inbox.record(webhook_id, uuid7(), "analysis.started", received_at)
        await uow.commit()

    pruned = await container.housekeeping.prune()

    async with container.unit_of_work() as uow:
        remembered = {w for w in received if not await uow.inbox.record(w, uuid7(), "analysis.started", now)}
    assert (pruned.webhook_ids, remembered) == (1, {"msg_past_tolerance", "msg_recent"})


async def _job_in(container: Container, catalog: Catalog, status: JobStatus, since: datetime) -> UUID:
    """A job that entered ``status`` at ``since`` the way the pipeline moves it there."""
    job_id = uuid7()
    recording = Recording(recording_key(job_id, AudioFormat.WAV), "audio/wav", 1.0, 32_044)
    pipeline = container.pipeline
    steps: dict[JobStatus, Callable[[Job], object]] = {
        JobStatus.AWAITING_UPLOAD: lambda job: None,
        JobStatus.QUEUED: lambda job: job.attach_recording(recording, since, pipeline.queue_deadline),
        JobStatus.DISPATCHED: lambda job: job.mark_dispatched(since, pipeline.token_deadline),
        JobStatus.PROCESSING: lambda job: job.start(since),
    }
    job = Job.create(
        job_id,
        catalog.user.user_id,
        ReferenceKind.TOKEN,
        catalog.token_id,
        since,
        None,
        deadline=pipeline.upload_deadline,
    )
    for step in list(steps)[: list(steps).index(status) + 1]:
        steps[step](job)
    assert job.status is status
    async with container.unit_of_work() as uow:
        await uow.jobs.add(job)
        await uow.commit()
    return job_id


LIVE_STATUSES = [status for status in JobStatus if not status.is_terminal]


@pytest.mark.parametrize("status", LIVE_STATUSES)
async def test_no_job_stays_in_a_live_status_past_its_deadline(
    container: Container, catalog: Catalog, status: JobStatus
) -> None:
    # Longer ago than any of the pipeline's deadlines: nothing reported, nothing relayed since.
    job_id = await _job_in(container, catalog, status, datetime.now(UTC) - timedelta(days=1))

    await container.housekeeping.fail_overdue_jobs()

    job = await load_job(container, job_id)
    expected = FailureCode.UPLOAD_EXPIRED if status is JobStatus.AWAITING_UPLOAD else FailureCode.TIMED_OUT
    assert (job.status, job.failure_code) == (JobStatus.FAILED, expected.value)


async def test_an_expired_direct_upload_loses_its_object(container: Container, catalog: Catalog) -> None:
    job_id = await _job_in(
        container, catalog, JobStatus.AWAITING_UPLOAD, datetime.now(UTC) - timedelta(days=1)
    )
    await container.storage.put(recording_key(job_id), tone(0.5), "audio/wav")

    await container.housekeeping.fail_overdue_jobs()

    assert await container.storage.stat(recording_key(job_id)) is None


async def test_the_orphan_sweep_pages_past_postgres_bind_parameter_limit(
    container: Container, queue_job: QueueJob
) -> None:
    # One IN list of 40,000 ids is refused by asyncpg (at most 32,767 bind parameters).
    old = datetime.now(UTC) - timedelta(hours=2)
    kept = await _store_recording(container, (await queue_job(job_id=uuid7_at(old))).job_id)
    recordings = container.settings.local_storage_dir / "objects" / "recordings"

    def write_orphans() -> None:
        # Straight to the local store's files: 40,000 puts through the adapter would take minutes.
        recordings.mkdir(parents=True, exist_ok=True)
        for _ in range(40_000):
            (recordings / f"{uuid7_at(old)}.wav").write_bytes(b"x")

    await asyncio.to_thread(write_orphans)

    removed = await container.housekeeping.remove_orphaned_recordings()

    assert (removed, await container.storage.list_keys("recordings/")) == (40_000, [kept])
