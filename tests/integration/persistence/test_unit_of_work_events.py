"""The unit of work stores the new events of the jobs it saved in its transaction and publishes them
after the commit; a rolled-back or failed transaction neither stores nor publishes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.analysis.jobs import EventType, Job, Recording
from domain.catalog import ReferenceKind
from domain.errors import ConflictError
from tests.integration.persistence.conftest import UnitOfWorkFactory
from tests.integration.persistence.test_repositories import a_user, store_token, store_user
from tests.support.pipeline_fakes import RecordingPublisher

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
RECORDING = Recording("recordings/x.wav", "audio/wav", 1.0, 100)


async def a_queued_job(unit_of_work: UnitOfWorkFactory) -> Job:
    user = a_user(f"{uuid4().hex[:8]}@example.com")
    await store_user(unit_of_work, user)
    return Job.create(
        uuid4(), user.id, ReferenceKind.TOKEN, await store_token(unit_of_work), NOW, RECORDING, deadline=HOUR
    )


async def add(unit_of_work: UnitOfWorkFactory, job: Job) -> None:
    async with unit_of_work() as uow:
        await uow.jobs.add(job)
        await uow.commit()


async def test_commit_stores_and_then_publishes_the_saved_jobs_new_events_once(
    unit_of_work: UnitOfWorkFactory, publisher: RecordingPublisher
) -> None:
    job = await a_queued_job(unit_of_work)
    async with unit_of_work() as uow:
        await uow.jobs.add(job)
        job.mark_dispatched(NOW, timedelta(minutes=2))
        await uow.jobs.save(job)
        await uow.commit()

    async with unit_of_work() as uow:
        stored = await uow.job_events.list_after(job.id, 0)
    assert [(e.sequence, e.type) for e in stored] == [(1, EventType.QUEUED), (2, EventType.DISPATCHED)]
    assert publisher.batches == [stored]
    assert job.pending_events == []


async def test_a_job_saved_by_two_units_of_work_publishes_each_event_once(
    unit_of_work: UnitOfWorkFactory, publisher: RecordingPublisher
) -> None:
    job = await a_queued_job(unit_of_work)
    await add(unit_of_work, job)
    async with unit_of_work() as uow:
        loaded = await uow.jobs.get_for_update(job.id)
        assert loaded is not None
        loaded.start(NOW)
        await uow.jobs.save(loaded)
        await uow.commit()

    assert [[e.type for e in batch] for batch in publisher.batches] == [
        [EventType.QUEUED],
        [EventType.STARTED],
    ]


async def test_leaving_without_commit_stores_and_publishes_nothing(
    unit_of_work: UnitOfWorkFactory, publisher: RecordingPublisher
) -> None:
    job = await a_queued_job(unit_of_work)
    async with unit_of_work() as uow:
        await uow.jobs.add(job)

    async with unit_of_work() as uow:
        assert await uow.jobs.get(job.id) is None
        assert await uow.job_events.list_after(job.id, 0) == []
    assert publisher.batches == []


async def test_a_transaction_that_fails_publishes_nothing(
    unit_of_work: UnitOfWorkFactory, publisher: RecordingPublisher
) -> None:
    job = await a_queued_job(unit_of_work)
    await add(unit_of_work, job)
    assert job.item_id is not None
    twin = Job.create(
        job.id, job.user_id, job.kind, job.item_id, NOW, RECORDING, deadline=HOUR
    )  # breaks the key

    with pytest.raises(ConflictError):
        await add(unit_of_work, twin)

    assert len(publisher.batches) == 1


async def test_a_publisher_failure_leaves_the_committed_events_for_streams_to_catch_up(
    unit_of_work: UnitOfWorkFactory, publisher: RecordingPublisher
) -> None:
    publisher.fail = True
    job = await a_queued_job(unit_of_work)
    await add(unit_of_work, job)

    async with unit_of_work() as uow:
        assert [e.type for e in await uow.job_events.list_after(job.id, 0)] == [EventType.QUEUED]
