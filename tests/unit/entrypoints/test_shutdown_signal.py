"""The API's shutdown signal: set on SIGTERM while the previous handler (uvicorn's) still runs."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Iterator
from types import FrameType

import pytest

from entrypoints.http.shutdown import ShutdownSignal, until_shutdown


@pytest.fixture
def previous_calls() -> Iterator[list[int]]:
    """A stand-in for uvicorn's handler, installed before the app chains onto it."""
    calls: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        calls.append(signum)

    original = signal.signal(signal.SIGTERM, handler)
    yield calls
    signal.signal(signal.SIGTERM, original)


async def _raise_sigterm(shutdown: ShutdownSignal) -> None:
    shutdown.install()
    try:
        signal.raise_signal(signal.SIGTERM)
        await asyncio.wait_for(shutdown.event.wait(), 1)
    finally:
        shutdown.uninstall()


async def test_sigterm_sets_the_shutdown_event(previous_calls: list[int]) -> None:
    shutdown = ShutdownSignal()
    await _raise_sigterm(shutdown)
    assert shutdown.event.is_set()


async def test_sigterm_still_reaches_the_previous_handler(previous_calls: list[int]) -> None:
    await _raise_sigterm(ShutdownSignal())
    assert previous_calls == [signal.SIGTERM]


async def test_uninstalling_restores_the_previous_handler(previous_calls: list[int]) -> None:
    before = signal.getsignal(signal.SIGTERM)
    shutdown = ShutdownSignal()
    shutdown.install()
    shutdown.uninstall()
    assert signal.getsignal(signal.SIGTERM) is before


async def _numbers(gate: asyncio.Event) -> AsyncIterator[int]:
    yield 1
    await gate.wait()  # a live stream waiting for its next event
    yield 2


async def test_items_flow_until_the_source_ends() -> None:
    gate = asyncio.Event()
    gate.set()
    assert [item async for item in until_shutdown(_numbers(gate), asyncio.Event())] == [1, 2]


async def test_a_shutdown_ends_a_stream_that_waits_for_its_next_item() -> None:
    shutdown = asyncio.Event()
    received = []
    async for item in until_shutdown(_numbers(asyncio.Event()), shutdown):
        received.append(item)
        shutdown.set()
    assert received == [1]


async def test_a_stream_opened_during_shutdown_yields_nothing() -> None:
    shutdown = asyncio.Event()
    shutdown.set()
    assert [item async for item in until_shutdown(_numbers(asyncio.Event()), shutdown)] == []


async def test_closing_the_stream_while_it_waits_releases_the_source() -> None:
    released = asyncio.Event()

    async def source() -> AsyncIterator[int]:
        try:
            yield 1
            await asyncio.Event().wait()  # waits for an event that never comes
            yield 2
        finally:
            released.set()

    stream = until_shutdown(source(), asyncio.Event())
    assert await anext(stream) == 1
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.01)
    waiting.cancel()  # the client went away: the response task is cancelled
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    assert released.is_set()


async def _consume(stream: AsyncIterator[int], received: list[int]) -> None:
    async for item in stream:
        received.append(item)


def _watchers() -> list[asyncio.Task[object]]:
    return [task for task in asyncio.all_tasks() if task.get_name() == "sse-shutdown-watch"]


async def test_a_shutdown_ends_every_waiting_stream_and_releases_each_source() -> None:
    shutdown = asyncio.Event()
    released: list[int] = []

    async def source(number: int) -> AsyncIterator[int]:
        try:
            yield number
            await asyncio.Event().wait()  # a quiet live stream
        finally:
            released.append(number)

    received: list[int] = []
    streams = [
        asyncio.ensure_future(_consume(until_shutdown(source(n), shutdown), received)) for n in range(50)
    ]
    await asyncio.sleep(0.01)
    assert len(_watchers()) == 1  # one watcher for all the streams of this shutdown

    shutdown.set()
    await asyncio.wait_for(asyncio.gather(*streams), 5)  # each ends normally: no CancelledError

    assert sorted(received) == list(range(50))
    assert sorted(released) == list(range(50))
    assert not any(stream.cancelled() for stream in streams)
    await asyncio.sleep(0)
    assert _watchers() == []


async def test_streams_that_end_before_a_shutdown_leave_no_watcher_behind() -> None:
    gate = asyncio.Event()
    gate.set()
    for _ in range(3):
        assert [item async for item in until_shutdown(_numbers(gate), asyncio.Event())] == [1, 2]
    await asyncio.sleep(0)
    assert _watchers() == []


async def test_a_client_going_away_during_a_shutdown_still_cancels_its_response() -> None:
    shutdown = asyncio.Event()
    stream = asyncio.ensure_future(_consume(until_shutdown(_numbers(asyncio.Event()), shutdown), []))
    await asyncio.sleep(0.01)

    shutdown.set()
    stream.cancel()  # the server cancels the response task as the shutdown cuts its wait

    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(stream, 5)
    assert stream.cancelled()
