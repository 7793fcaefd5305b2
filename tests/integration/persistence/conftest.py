"""A unit of work on the run's migrated database; rows are removed after every test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from adapters.persistence.unit_of_work import SqlaUnitOfWork
from tests.support.pipeline_fakes import RecordingPublisher

UnitOfWorkFactory = Callable[[], SqlaUnitOfWork]


@pytest.fixture
async def engine(clean_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(clean_database)
    yield engine
    await engine.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def unit_of_work(
    session_factory: async_sessionmaker[AsyncSession], publisher: RecordingPublisher
) -> UnitOfWorkFactory:
    return lambda: SqlaUnitOfWork(session_factory, publisher)
