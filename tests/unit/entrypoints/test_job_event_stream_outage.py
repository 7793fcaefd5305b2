"""A job's SSE stream cut by a Postgres outage ends with a retry hint; any other failure ends it plainly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
from sqlalchemy.exc import DBAPIError

from domain.analysis.jobs import JobEvent
from entrypoints.http.controllers.job_events import sse_messages
from entrypoints.http.metrics import ApiMetrics


async def _failing(error: Exception) -> AsyncIterator[JobEvent | None]:
    yield None
    raise error


async def _messages(error: Exception) -> list[tuple[str | None, int | None]]:
    stream = sse_messages(_failing(error), asyncio.Event(), ApiMetrics())
    return [(message.comment, message.retry) async for message in stream]


async def test_a_stream_cut_by_a_database_outage_ends_with_a_retry_hint() -> None:
    lost = DBAPIError("SELECT", None, asyncpg.exceptions.ConnectionDoesNotExistError("connection lost"))

    messages = await _messages(lost)

    assert messages[-1] == ("postgres unavailable; reconnect", 5000)


async def test_a_stream_cut_by_a_bug_ends_without_an_outage_hint() -> None:
    messages = await _messages(ValueError("a bug"))

    assert messages == [("keep-alive", 3000)]
