"""PipelineStatistics on fakes: jobs per kind and status, and how long the oldest unsent row waits."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.application.pipeline_world import NOW, World

from application.operations import PipelineStatistics
from domain.analysis.jobs import JobStatus
from domain.catalog import ReferenceKind


async def test_the_snapshot_counts_jobs_and_ages_the_oldest_unsent_row() -> None:
    world = World()
    first, _ = await world.queue_job()
    await world.queue_job()
    await world.change_job(first, lambda job: job.cancel(NOW))
    world.clock.advance(timedelta(seconds=90))

    snapshot = await PipelineStatistics(world.database, world.clock).snapshot()

    assert snapshot.jobs == {
        (ReferenceKind.TOKEN, JobStatus.QUEUED): 1,
        (ReferenceKind.TOKEN, JobStatus.CANCELLED): 1,
    }
    assert snapshot.job_count(ReferenceKind.SCRIPT, JobStatus.QUEUED) == 0
    assert (snapshot.outbox_unsent, snapshot.oldest_unsent_age_seconds) == (2, 90.0)
    assert snapshot.taken_at == NOW + timedelta(seconds=90)


async def test_an_empty_outbox_has_no_age() -> None:
    world = World()

    snapshot = await PipelineStatistics(world.database, world.clock).snapshot()

    assert (snapshot.jobs, snapshot.outbox_unsent, snapshot.oldest_unsent_age_seconds) == ({}, 0, 0.0)
