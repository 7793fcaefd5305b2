"""Housekeeping on fakes: overdue jobs time out, orphaned recordings go, old rows are pruned."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import pytest
from tests.support.pipeline_fakes import PruningIdempotencyStore
from tests.unit.application.pipeline_world import NOW, SETTINGS, World

from application.analysis.maintenance import TIMED_OUT_REASON, Housekeeping, Pruned, uuid7_time
from domain.analysis.jobs import EventType, FailureCode, JobStatus
from domain.analysis.results import AnalysisResult


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def idempotency() -> PruningIdempotencyStore:
    return PruningIdempotencyStore(expired=2)


@pytest.fixture
def housekeeping(world: World, idempotency: PruningIdempotencyStore) -> Housekeeping:
    return Housekeeping(world.database, world.storage, idempotency, world.clock, world.settings)


async def _dispatched_job(world: World) -> UUID:
    job_id, _ = await world.queue_job()
    await world.change_job(job_id, lambda job: job.mark_dispatched(NOW, SETTINGS.token_deadline))
    return job_id


async def test_a_job_past_its_deadline_fails_as_timed_out_and_publishes_failed(
    world: World, housekeeping: Housekeeping
) -> None:
    job_id = await _dispatched_job(world)
    world.clock.advance(SETTINGS.token_deadline)

    assert await housekeeping.fail_overdue_jobs() == 1

    job = world.job(job_id)
    assert (job.status, job.failure_code, job.failure_reason) == (
        JobStatus.FAILED,
        FailureCode.TIMED_OUT.value,
        TIMED_OUT_REASON,
    )
    assert world.published(job_id) == [EventType.QUEUED, EventType.DISPATCHED, EventType.FAILED]


async def test_a_job_before_its_deadline_is_left_alone(world: World, housekeeping: Housekeeping) -> None:
    job_id = await _dispatched_job(world)
    world.clock.advance(SETTINGS.token_deadline - timedelta(seconds=1))

    assert await housekeeping.fail_overdue_jobs() == 0
    assert world.job(job_id).status is JobStatus.DISPATCHED


async def test_a_finished_job_past_its_deadline_stays_finished(
    world: World, housekeeping: Housekeeping
) -> None:
    job_id = await _dispatched_job(world)
    await world.change_job(job_id, lambda job: job.complete(AnalysisResult(90.0, {}), NOW))
    world.clock.advance(SETTINGS.token_deadline * 2)

    assert await housekeeping.fail_overdue_jobs() == 0
    assert world.job(job_id).status is JobStatus.COMPLETED


def uuid7_at(when: datetime) -> UUID:
    milliseconds = int(when.timestamp() * 1000)
    return UUID(int=(milliseconds << 80) | (0x7 << 76) | (0b10 << 62) | random.getrandbits(62))


async def test_only_old_recordings_without_a_job_are_removed(
    world: World, housekeeping: Housekeeping
) -> None:
    old = NOW - SETTINGS.orphan_grace - timedelta(minutes=1)
    job_id, _ = await world.queue_job()  # sequential test ids read as created in 1970: old enough
    keys = {
        "orphan": f"recordings/{uuid7_at(old)}.wav",
        "has a job": f"recordings/{job_id}.wav",
        "too young": f"recordings/{uuid7_at(NOW - timedelta(minutes=1))}.wav",
        "not a job key": "recordings/notes.txt",
    }
    for key in keys.values():
        await world.storage.put(key, b"x", "audio/wav")

    assert await housekeeping.remove_orphaned_recordings() == 1

    assert sorted(world.storage.objects) == sorted(v for k, v in keys.items() if k != "orphan")


def test_a_uuid7_carries_its_creation_time_to_the_millisecond() -> None:
    assert uuid7_time(uuid7_at(NOW)) == NOW


async def test_pruning_drops_relayed_rows_past_retention_and_expired_keys(
    world: World, housekeeping: Housekeeping, idempotency: PruningIdempotencyStore
) -> None:
    _, old = await world.queue_job()
    _, recent = await world.queue_job()
    _, unsent = await world.queue_job()
    world.message(old).sent_at = NOW
    world.clock.advance(SETTINGS.outbox_retention)
    world.message(recent).sent_at = world.clock.now()
    world.clock.advance(timedelta(seconds=1))

    assert await housekeeping.prune() == Pruned(outbox_rows=1, webhook_ids=0, idempotency_keys=2)

    assert set(world.tables.outbox) == {recent, unsent}
    assert idempotency.pruned_at == [world.clock.now()]


async def test_pruning_forgets_webhook_ids_received_before_the_inbox_retention(
    world: World, housekeeping: Housekeeping
) -> None:
    async with world.database() as uow:
        await uow.inbox.record("msg_old", uuid4(), "analysis.started", NOW)
        await uow.inbox.record("msg_new", uuid4(), "analysis.started", NOW + timedelta(minutes=10))
        await uow.commit()
    world.clock.advance(SETTINGS.webhook_inbox_retention + timedelta(minutes=1))

    assert (await housekeeping.prune()).webhook_ids == 1
    assert set(world.tables.inbox) == {"msg_new"}
