"""Cancelling a job on fakes: the cancelled event is stored and published; finished jobs stay finished."""

from __future__ import annotations

from uuid import UUID

import pytest
from tests.unit.application.pipeline_world import NOW, OWNER, World

from application.analysis.jobs import UserJobs
from domain.accounts import Principal, Role
from domain.analysis.jobs import EventType, JobStatus
from domain.analysis.results import AnalysisResult
from domain.errors import ConflictError, NotFoundError


class NoFeed:
    async def subscribe(self, job_id: UUID) -> None:
        raise AssertionError("cancelling follows no stream")


@pytest.fixture
def world() -> World:
    return World()


def jobs_of(world: World) -> UserJobs:
    return UserJobs(world.database, NoFeed(), world.clock)  # type: ignore[arg-type]


async def test_cancelling_a_live_job_stores_and_publishes_cancelled(world: World) -> None:
    job_id, _ = await world.queue_job()

    cancelled = await jobs_of(world).cancel(OWNER, job_id)

    assert cancelled.status is JobStatus.CANCELLED
    assert world.job(job_id).status is JobStatus.CANCELLED
    assert world.published(job_id) == [EventType.QUEUED, EventType.CANCELLED]


async def test_a_finished_job_cannot_be_cancelled(world: World) -> None:
    job_id, _ = await world.queue_job()
    await world.change_job(job_id, lambda job: job.complete(AnalysisResult(75.0, {}), NOW))

    with pytest.raises(ConflictError):
        await jobs_of(world).cancel(OWNER, job_id)
    assert world.published(job_id) == [EventType.QUEUED, EventType.COMPLETED]


async def test_another_users_job_is_not_found(world: World) -> None:
    job_id, _ = await world.queue_job()

    with pytest.raises(NotFoundError):
        await jobs_of(world).cancel(Principal(UUID(int=7), Role.USER), job_id)
    assert world.job(job_id).status is JobStatus.QUEUED
