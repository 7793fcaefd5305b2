"""The API's shutdown signal, so long-lived responses (SSE) can end cleanly when the server stops.

On SIGTERM or SIGINT uvicorn stops accepting connections, waits up to ``timeout_graceful_shutdown``
for open responses to finish, and only then runs the app's lifespan shutdown. An SSE stream never
finishes on its own, so an event set in the lifespan shutdown would come after the whole grace period,
when uvicorn has already cut the streams. The app therefore chains onto the process's SIGTERM/SIGINT
handlers (uvicorn's, which still run) and sets the event as the signal arrives; the lifespan shutdown
sets it too, for servers stopped without a signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")
SIGNALS = (signal.SIGTERM, signal.SIGINT)
_Handler = Callable[[int, FrameType | None], Any] | int | None


class ShutdownSignal:
    def __init__(self) -> None:
        self.event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: dict[int, _Handler] = {}

    def install(self) -> None:
        """Chain onto the current SIGTERM/SIGINT handlers (only the main thread may set handlers)."""
        if threading.current_thread() is not threading.main_thread():
            return
        self._loop = asyncio.get_running_loop()
        for signum in SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)

    def uninstall(self) -> None:
        for signum, previous in self._previous.items():
            if signal.getsignal(signum) == self._handle:
                signal.signal(signum, previous)
        self._previous.clear()

    def trigger(self) -> None:
        self.event.set()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.event.set)
        previous = self._previous.get(signum)
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            # Nobody else handles it: do what the signal would have done without us.
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)


async def until_shutdown(items: AsyncIterable[T], shutdown: asyncio.Event) -> AsyncIterator[T]:
    """Yield from ``items`` until they end or ``shutdown`` is set, whichever comes first.

    A wait for the next item cut short by the shutdown, or by the consumer closing this iterator (a
    client that disconnected), is cancelled, so the source is free to be closed. The caller tells the
    endings apart with ``shutdown.is_set()`` and sends its goodbye (an SSE ``retry:`` hint).
    """
    iterator = aiter(items)
    stopping: asyncio.Future[Any] = asyncio.ensure_future(shutdown.wait())
    step: asyncio.Future[Any] | None = None
    try:
        while not shutdown.is_set():
            step = asyncio.ensure_future(anext(iterator))
            await asyncio.wait({step, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not step.done():
                return
            try:
                item: T = step.result()
            except StopAsyncIteration:
                return
            step = None
            yield item
    finally:
        for pending in (step, stopping):
            if pending is not None and not pending.done():
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await pending
