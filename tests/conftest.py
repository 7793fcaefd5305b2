"""Session-wide services: a fresh, migrated database per test run, and Redis."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from adapters.persistence import migrations
from entrypoints.settings import normalise_database_url
from tests.support.services import ServiceUrls, service_urls


@pytest.fixture(scope="session")
def services() -> Iterator[ServiceUrls]:
    with service_urls() as urls:
        yield urls


async def _admin(server_url: str, statement: str) -> None:
    engine = create_async_engine(make_url(server_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def empty_database_factory(services: ServiceUrls) -> Iterator[object]:
    """Creates uniquely named, empty databases on the test server and drops them at the end."""
    server_url = normalise_database_url(services.database_url)
    created: list[str] = []

    def create() -> str:
        name = f"test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
        created.append(name)
        return make_url(server_url).set(database=name).render_as_string(hide_password=False)

    yield create
    for name in created:
        asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def database_url(empty_database_factory) -> str:  # type: ignore[no-untyped-def]
    """This run's database, built by running every migration (never create_all)."""
    url: str = empty_database_factory()
    migrations.upgrade(url)
    return url


@pytest.fixture(scope="session")
def redis_url(services: ServiceUrls) -> str:
    return services.redis_url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    yield engine
    await engine.dispose()


TABLES_TO_EMPTY = (
    "job_word_results",
    "idempotency_keys",
    "webhook_inbox",
    "outbox",
    "job_events",
    "jobs",
    "bookmarks",
    "words",
    "movie_lines",
    "script_details",
    "practice_items",
    "actors",
    "users",
)


@pytest.fixture
async def clean_database(database_url: str) -> AsyncIterator[str]:
    """The run's database, emptied after the test so tests do not see each other's rows."""
    yield database_url
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {', '.join(TABLES_TO_EMPTY)} CASCADE"))
    finally:
        await engine.dispose()
