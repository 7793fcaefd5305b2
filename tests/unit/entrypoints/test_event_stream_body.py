"""The SSE response's body: frames sent from the request's task, ended by the client's disconnect."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

from litestar.background_tasks import BackgroundTask

from entrypoints.http.controllers.job_events import EventStream, EventStreamBody


class Client:
    """An ASGI client of one response: records what is sent; disconnects when told."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.frame = asyncio.Event()
        self._gone = asyncio.Event()
        self._asked = 0

    async def receive(self) -> dict[str, Any]:
        self._asked += 1
        if self._asked == 1:
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        self.frame.set()

    def disconnect(self) -> None:
        self._gone.set()

    @property
    def bodies(self) -> list[bytes]:
        return [m["body"] for m in self.sent if m["type"] == "http.response.body"]


async def _quiet_after(first: bytes, released: asyncio.Event) -> AsyncIterator[bytes]:
    try:
        yield first
        await asyncio.Event().wait()  # a live stream with nothing new
    finally:
        released.set()


def _response(frames: AsyncIterator[bytes], closed: list[str]) -> EventStreamBody:
    async def close() -> None:
        closed.append("events closed")

    stream = EventStream(frames, background=BackgroundTask(close))
    response = stream.to_asgi_response(None, cast(Any, None))
    assert isinstance(response, EventStreamBody)
    return response


async def _run(response: EventStreamBody, client: Client) -> None:
    await response({"type": "http"}, cast(Any, client.receive), cast(Any, client.send))  # type: ignore[arg-type]


async def test_a_client_disconnecting_ends_the_response_and_its_background_task_runs() -> None:
    released, closed, client = asyncio.Event(), [], Client()
    serving = asyncio.ensure_future(_run(_response(_quiet_after(b"frame", released), closed), client))
    await asyncio.wait_for(client.frame.wait(), 5)

    client.disconnect()
    await asyncio.wait_for(serving, 5)  # ends normally: the disconnect's cancellation is taken back

    assert client.bodies == [b"frame"]
    assert released.is_set()
    assert closed == ["events closed"]


async def test_a_finite_stream_is_sent_whole_then_ended_with_nothing_left_running() -> None:
    async def frames() -> AsyncIterator[bytes]:
        yield b"one"
        yield b"two"

    closed: list[str] = []
    client = Client()
    before = asyncio.all_tasks()

    await asyncio.wait_for(_run(_response(frames(), closed), client), 5)
    await asyncio.sleep(0)

    assert client.bodies == [b"one", b"two", b""]
    assert client.sent[-1]["more_body"] is False
    assert closed == ["events closed"]
    assert asyncio.all_tasks() == before  # the disconnect listener is gone


async def test_the_server_cancelling_the_response_still_cancels_it() -> None:
    released, closed, client = asyncio.Event(), [], Client()
    serving = asyncio.ensure_future(_run(_response(_quiet_after(b"frame", released), closed), client))
    await asyncio.wait_for(client.frame.wait(), 5)

    serving.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(serving, 5)

    assert serving.cancelled()
    assert released.is_set()
