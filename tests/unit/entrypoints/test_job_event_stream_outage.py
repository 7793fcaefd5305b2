"""A job's SSE stream cut by a Postgres outage ends with a retry hint; any other failure ends it plainly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
from litestar.response import ServerSentEventMessage
from sqlalchemy.exc import DBAPIError

from domain.analysis.jobs import JobEvent
from entrypoints.http.controllers.job_events import sse_frame, sse_messages, with_retry
from entrypoints.http.metrics import ApiMetrics
from entrypoints.http.security import CredentialWatch


async def _failing(error: Exception) -> AsyncIterator[JobEvent | None]:
    yield None
    raise error


async def _messages(error: Exception) -> list[bytes]:
    stream = sse_messages(_failing(error), CredentialWatch(lambda: None, 60), asyncio.Event(), ApiMetrics())
    return [frame async for frame in stream]


async def test_a_stream_cut_by_a_database_outage_ends_with_a_retry_hint() -> None:
    lost = DBAPIError("SELECT", None, asyncpg.exceptions.ConnectionDoesNotExistError("connection lost"))

    messages = await _messages(lost)

    assert messages[-1] == b": postgres unavailable; reconnect\r\nretry: 5000\r\n\r\n"


async def test_a_stream_cut_by_a_bug_ends_without_an_outage_hint() -> None:
    messages = await _messages(ValueError("a bug"))

    assert messages == [b": keep-alive\r\nretry: 3000\r\n\r\n"]


def test_frames_are_written_as_litestars_server_sent_events_are() -> None:
    frame = sse_frame(data=b'{"a":1}\nsecond', event="progress", event_id=7, comment="two\nlines", retry=10)

    assert (
        frame
        == ServerSentEventMessage(
            data='{"a":1}\nsecond', event="progress", id=7, comment="two\nlines", retry=10
        ).encode()
    )
    assert with_retry(sse_frame(data=b"x", event_id=1), 3000) == (
        ServerSentEventMessage(data="x", id=1, retry=3000).encode()
    )
