"""Jobs by kind and status and the outbox backlog, read from Postgres in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from application.operations import PipelineStatistics
from domain.analysis.jobs import Job, JobStatus, Recording
from domain.analysis.outbox import OutboxMessage
from domain.catalog import ReferenceKind
from tests.integration.persistence.conftest import UnitOfWorkFactory
from tests.integration.persistence.test_repositories import (
    a_script,
    a_user,
    store_items,
    store_token,
    store_user,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
RECORDING = Recording("recordings/x.wav", "audio/wav", 1.0, 100)


class FixedClock:
    def now(self) -> datetime:
        return NOW


async def store_jobs(unit_of_work: UnitOfWorkFactory, *jobs: tuple[ReferenceKind, bool]) -> list[Job]:
    """Jobs of a new user, on a new token or script; ``True`` gives a job its recording (queued)."""
    user = a_user(f"{uuid4().hex[:8]}@example.com")
    await store_user(unit_of_work, user)
    script = a_script()
    await store_items(unit_of_work, script)
    targets = {ReferenceKind.TOKEN: await store_token(unit_of_work), ReferenceKind.SCRIPT: script.id}
    created = [
        Job.create(uuid4(), user.id, kind, targets[kind], NOW, RECORDING if recorded else None, deadline=HOUR)
        for kind, recorded in jobs
    ]
    async with unit_of_work() as uow:
        for job in created:
            await uow.jobs.add(job)
        await uow.commit()
    return created


async def test_jobs_are_counted_per_kind_and_status(unit_of_work: UnitOfWorkFactory) -> None:
    await store_jobs(
        unit_of_work, (ReferenceKind.TOKEN, True), (ReferenceKind.TOKEN, True), (ReferenceKind.SCRIPT, False)
    )
    async with unit_of_work() as uow:
        counts = await uow.jobs.count_by_kind_and_status()
    assert counts == {
        (ReferenceKind.TOKEN, JobStatus.QUEUED): 2,
        (ReferenceKind.SCRIPT, JobStatus.AWAITING_UPLOAD): 1,
    }


async def test_the_snapshot_ages_the_oldest_unsent_outbox_row(unit_of_work: UnitOfWorkFactory) -> None:
    older, newer = await store_jobs(unit_of_work, (ReferenceKind.TOKEN, True), (ReferenceKind.TOKEN, True))
    async with unit_of_work() as uow:
        await uow.outbox.add(OutboxMessage(uuid4(), older.id, NOW - timedelta(seconds=90)))
        await uow.outbox.add(OutboxMessage(uuid4(), newer.id, NOW - timedelta(seconds=30)))
        await uow.commit()
    snapshot = await PipelineStatistics(unit_of_work, FixedClock()).snapshot()
    assert (snapshot.outbox_unsent, snapshot.oldest_unsent_age_seconds) == (2, 90.0)


async def test_sent_rows_are_not_backlog(unit_of_work: UnitOfWorkFactory) -> None:
    (job,) = await store_jobs(unit_of_work, (ReferenceKind.TOKEN, True))
    async with unit_of_work() as uow:
        message = OutboxMessage(uuid4(), job.id, NOW - timedelta(seconds=90), next_attempt_at=NOW)
        await uow.outbox.add(message)
        message.sent_at = NOW
        await uow.outbox.save(message)
        await uow.commit()
    snapshot = await PipelineStatistics(unit_of_work, FixedClock()).snapshot()
    assert (snapshot.outbox_unsent, snapshot.oldest_unsent_age_seconds) == (0, 0.0)
