"""The pipeline against real Postgres and Redis, with the stub analysis server over real HTTP.

Containers come from the real composition root with the analysis server URLs pointing at the stub.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import numpy as np
import pytest
from uuid_utils.compat import uuid7

from application.accounts import SignUpRequest
from application.analysis.uploads import recording_key
from application.catalog import ActorInput, MovieLineInput
from domain.accounts import Principal, Role
from domain.analysis.jobs import EventType, Job, JobStatus, Recording
from domain.analysis.outbox import OutboxMessage
from domain.audio import AudioFormat
from domain.catalog import ReferenceKind
from entrypoints.bootstrap import Container, build_container
from entrypoints.settings import Settings
from tests.support.encoding import encode_audio
from tests.support.stub_analysis_server import StubAnalysisServer


def tone_wav(seconds: float = 1.0) -> bytes:
    rate = 16_000
    t = np.arange(int(seconds * rate)) / rate
    return encode_audio((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, "wav")


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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


@pytest.fixture(scope="session")
def stub_server() -> Iterator[StubAnalysisServer]:
    with StubAnalysisServer() as server:
        yield server


@pytest.fixture
def stub(stub_server: StubAnalysisServer) -> Iterator[StubAnalysisServer]:
    """The session's stub, reset: listening, answering 202 at once, without webhooks, nothing received."""
    stub_server.reset()
    yield stub_server
    stub_server.reset()


@pytest.fixture
def settings(clean_database: str, redis_url: str, tmp_path: Path, stub: StubAnalysisServer) -> Settings:
    return replace(
        Settings(),
        environment="test",
        database_url=clean_database,
        redis_url=redis_url,
        local_storage_dir=tmp_path / "storage",
        analysis_token_server_url=stub.url,
        analysis_script_server_url=stub.url,
        analysis_dispatch_timeout_seconds=2.0,
        log_level="WARNING",
    )


@pytest.fixture
async def make_container(settings: Settings) -> AsyncIterator[Callable[..., Awaitable[Container]]]:
    """Build containers like a process does (overriding settings); all are closed after the test."""
    built: list[Container] = []

    async def make(**overrides: Any) -> Container:
        container = await build_container(replace(settings, **overrides))
        built.append(container)
        return container

    yield make
    for container in built:
        await container.close()


@pytest.fixture
async def container(make_container: Callable[..., Awaitable[Container]]) -> Container:
    return await make_container()


@dataclass(frozen=True, slots=True)
class Catalog:
    user: Principal
    token_id: UUID


@pytest.fixture
async def catalog(container: Container) -> Catalog:
    """A user and a token with reference audio, so jobs can be created and relayed."""
    user = await container.registration.sign_up(
        SignUpRequest(
            email=f"{uuid4().hex[:8]}@example.com", password="correct horse battery", display_name="U"
        )
    )
    admin = Principal(user_id=uuid4(), role=Role.ADMIN)
    actor = await container.catalog_admin.create_actor(admin, ActorInput(name="Meryl Streep"))
    token = await container.catalog_admin.create_item(
        admin, MovieLineInput(actor_id=actor.id, movie_title="Film", text="Hello there")
    )
    await container.catalog_admin.upload_reference_audio(admin, ReferenceKind.TOKEN, token.id, tone_wav())
    return Catalog(user=Principal(user_id=user.id, role=Role.USER), token_id=token.id)


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
        job_id, catalog.user.user_id, ReferenceKind.TOKEN, catalog.token_id, now, recording, deadline=HOUR
    )


HOUR = timedelta(hours=1)


@pytest.fixture
def queue_job(container: Container, catalog: Catalog) -> QueueJob:
    """Write a queued job and its outbox row in one transaction, as an upload does, without the fast path."""

    async def queue(job_id: UUID | None = None, created_at: datetime | None = None) -> QueuedJob:
        now = created_at or datetime.now(UTC)
        job = token_job(catalog, now, job_id)
        message = OutboxMessage(uuid7(), job.id, now)
        async with container.unit_of_work() as uow:
            await uow.jobs.add(job)
            await uow.outbox.add(message)
            await uow.commit()
        return QueuedJob(job.id, message.id)

    return queue


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
