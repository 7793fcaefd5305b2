"""The pipeline against real Postgres and Redis, with the stub analysis server over real HTTP.

Containers come from the real composition root with the analysis server URLs pointing at the stub.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from uuid_utils.compat import uuid7

from application.accounts import SignUpRequest
from application.catalog import ActorInput, MovieLineInput
from domain.accounts import Principal, Role
from domain.analysis.outbox import OutboxMessage
from domain.catalog import ReferenceKind, Word
from entrypoints.bootstrap import Container, build_container
from entrypoints.settings import Settings
from tests.support.pipeline import Catalog, QueuedJob, QueueJob, token_job
from tests.support.recordings import tone
from tests.support.stub_analysis_server import StubAnalysisServer


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
    words = [Word(0, "Hello", 0.0, 0.45), Word(1, "there", 0.5, 0.95)]  # given: a tone has no speech to align
    token = await container.catalog_admin.create_item(
        admin, MovieLineInput(actor_id=actor.id, movie_title="Film", text="Hello there", words=words)
    )
    await container.catalog_admin.upload_reference_audio(admin, ReferenceKind.TOKEN, token.id, tone(1.0))
    return Catalog(user=Principal(user_id=user.id, role=Role.USER), token_id=token.id)


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
