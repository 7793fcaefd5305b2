"""Helpers of the pipeline's integration tests: polling with a bound, and reading jobs and outbox rows
back through a container's unit of work."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import pytest
from uuid_utils.compat import uuid7

from application.analysis.uploads import recording_key
from domain.accounts import Principal
from domain.analysis.jobs import EventType, Job, JobStatus, Recording
from domain.analysis.outbox import OutboxMessage
from domain.audio import AudioFormat
from domain.catalog import ReferenceKind
from entrypoints.bootstrap import Container


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float, interval: float = 0.1, what: str = "condition"
) -> float:
    """Poll until ``check`` holds; return the seconds it took, fail after ``within`` seconds."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > within:
            pytest.fail(f"{what} did not hold within {within} s")
        await asyncio.sleep(interval)
    return time.monotonic() - started


@dataclass(frozen=True, slots=True)
class Catalog:
    user: Principal
    token_id: UUID


@dataclass(frozen=True, slots=True)
class QueuedJob:
    job_id: UUID
    outbox_id: UUID


QueueJob = Callable[..., Awaitable[QueuedJob]]


def token_job(catalog: Catalog, now: datetime, job_id: UUID | None = None) -> Job:
    """A queued job on the catalog's token, its recording under the key the upload would use."""
    job_id = job_id or uuid7()
    recording = Recording(recording_key(job_id, AudioFormat.WAV), "audio/wav", 1.0, 32_044)
    return Job.create(
        job_id,
        catalog.user.user_id,
        ReferenceKind.TOKEN,
        catalog.token_id,
        now,
        recording,
        deadline=timedelta(hours=1),
    )


async def load_job(container: Container, job_id: UUID) -> Job:
    async with container.unit_of_work() as uow:
        job = await uow.jobs.get(job_id)
    assert job is not None
    return job


async def load_message(container: Container, outbox_id: UUID) -> OutboxMessage:
    async with container.unit_of_work() as uow:
        message = await uow.outbox.get(outbox_id)
    assert message is not None
    return message


async def dispatch_counts(container: Container, job_ids: list[UUID]) -> dict[UUID, int]:
    """How many ``dispatched`` events each job's history holds: 1 means it was applied exactly once."""
    counts: dict[UUID, int] = {}
    async with container.unit_of_work() as uow:
        for job_id in job_ids:
            events = await uow.job_events.list_after(job_id, 0)
            counts[job_id] = sum(1 for event in events if event.type is EventType.DISPATCHED)
    return counts


async def statuses(container: Container, job_ids: list[UUID]) -> dict[UUID, JobStatus]:
    return {job_id: (await load_job(container, job_id)).status for job_id in job_ids}
