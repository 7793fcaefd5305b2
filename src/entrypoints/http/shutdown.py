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


class _Watch:
    """The streams of one shutdown event: the tasks among them waiting for their next item are cancelled
    together when the event is set. One task per event waits for it while any stream is open, instead
    of a task and an ``asyncio.wait`` per stream per item."""

    def __init__(self, shutdown: asyncio.Event) -> None:
        self.streams = 0
        self.waiting: set[asyncio.Task[Any]] = set()
        # Tasks this watch cancelled, whose cancellation is theirs to take back.
        self.cut: set[asyncio.Task[Any]] = set()
        self._shutdown = shutdown
        self._watcher = asyncio.get_running_loop().create_task(self._watch(), name="sse-shutdown-watch")

    async def _watch(self) -> None:
        await self._shutdown.wait()
        for task in self.waiting:
            task.cancel()
        self.cut |= self.waiting

    def take_back(self, task: asyncio.Task[Any]) -> bool:
        """Whether ``task`` was cut short by the shutdown (not also cancelled by anyone else)."""
        if task not in self.cut:
            return False
        self.cut.discard(task)
        return task.uncancel() == 0

    def leave(self) -> None:
        self.streams -= 1
        if not self.streams:
            self._watcher.cancel()
            if _watches.get(self._shutdown) is self:
                del _watches[self._shutdown]


_watches: dict[asyncio.Event, _Watch] = {}


def _watch(shutdown: asyncio.Event) -> _Watch:
    watch = _watches.get(shutdown)
    if watch is None:
        watch = _watches[shutdown] = _Watch(shutdown)
    watch.streams += 1
    return watch


async def until_shutdown(items: AsyncIterable[T], shutdown: asyncio.Event) -> AsyncIterator[T]:
    """Yield from ``items`` until they end or ``shutdown`` is set, whichever comes first.

    A wait for the next item cut short by the shutdown, or by the consumer closing this iterator (a
    client that disconnected), is cancelled, so the source is free to be closed. The caller tells the
    endings apart with ``shutdown.is_set()`` and sends its goodbye (an SSE ``retry:`` hint).

    The wait runs in the caller's task: the shutdown cancels the tasks that are waiting (one watcher for
    all the streams of an event) and each takes its cancellation back here.
    """
    if shutdown.is_set():
        return
    iterator = aiter(items)
    watch = _watch(shutdown)
    task: asyncio.Task[Any] | None = None
    try:
        while not shutdown.is_set():
            # The consumer's task of this step (one response iterates in one task, but need not).
            task = asyncio.current_task()
            assert task is not None
            watch.waiting.add(task)
            try:
                item = await anext(iterator)
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                if watch.take_back(task):
                    return
                raise
            finally:
                watch.waiting.discard(task)
            if watch.take_back(task):
                return  # the source took the cancellation in: the shutdown still ends the stream
            yield item
    finally:
        if task is not None:
            watch.cut.discard(task)
        watch.leave()
