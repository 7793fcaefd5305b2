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
