"""CPU work in a pool of processes, with the stages each task enters relayed back to the event loop.

Measured on 2 cores (docs/reference-analysis-server.md): threads serialise the comparison on the GIL,
so two jobs at once take twice as long each; processes run them side by side and leave the event loop
responsive.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import forkserver
from multiprocessing.context import BaseContext
from multiprocessing.queues import Queue
from typing import TypeVar

from application.reference_analysis.ports import StageCallback

T = TypeVar("T")
logger = logging.getLogger(__name__)

# Each process is one of several sharing the cores; BLAS threads on top of them made a comparison
# 2-3 times slower (measured on 2 cores). The libraries read these once, when numpy loads.
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

SERVER_CHECK_SECONDS = 1.0

# Set in each pool process by its initializer: where the stages of its tasks go.
_stages: Queue[tuple[int, str | None]] | None = None


def _install(queue: Queue[tuple[int, str | None]], server_pid: int) -> None:
    global _stages
    _stages = queue
    # A terminal's Ctrl+C or a signal to the whole process group must not kill the analyses under way:
    # the server stops its processes itself once they are done (ProcessPoolRunner.close).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_without, args=(server_pid,), name="server-watch", daemon=True).start()


def _exit_without(server_pid: int) -> None:
    """End this process once the server is gone (killed, out of memory): nobody would stop it."""
    while True:
        time.sleep(SERVER_CHECK_SECONDS)
        try:
            os.kill(server_pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            continue


def _call(token: int, task: Callable[[StageCallback], T]) -> T:
    queue = _stages
    assert queue is not None, "the pool's initializer did not run"
    try:
        return task(lambda stage: queue.put((token, stage)))
    finally:
        # After every stage of this task, on the same queue: the parent waits for it before it returns
        # the result, so no stage is reported after the outcome.
        queue.put((token, None))


def _nothing() -> None:
    return None


@dataclass(slots=True)
class _Listener:
    loop: asyncio.AbstractEventLoop
    on_stage: StageCallback
    done: asyncio.Event


class ProcessPoolRunner:
    """Runs picklable tasks in ``workers`` processes forked from a fork server (spawned where there is none).

    The fork server imports ``preload`` and the main module once, so a new process does not pay for
    numpy and PyAV again. The processes start with single-threaded BLAS (see SINGLE_THREADED; the
    variables are set in this process's environment unless already set). Only this process stops
    them: they and the fork server ignore SIGTERM and SIGINT sent to the whole process group, and they
    end on their own once this process is gone. A process that dies (killed, out of memory) breaks the
    pool: its task fails and the pool is rebuilt for the next one.
    """

    def __init__(self, workers: int, preload: Sequence[str] = ()) -> None:
        for name, value in SINGLE_THREADED.items():
            os.environ.setdefault(name, value)
        self._context: BaseContext
        if "forkserver" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([*_main_modules(), *preload])
            _start_fork_server_deaf_to_sigterm()
            self._context = context
        else:
            self._context = multiprocessing.get_context("spawn")
        self._workers = workers
        self._stages: Queue[tuple[int, str | None]] = self._context.Queue()
        self._listeners: dict[int, _Listener] = {}
        self._lock = threading.Lock()
        self._tokens = itertools.count()
        self._executor = self._new_executor()
        self._relay = threading.Thread(target=self._relay_stages, name="analysis-stages", daemon=True)
        self._relay.start()

    async def warm_up(self) -> None:
        """Start every process now rather than on the first jobs."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._executor, _nothing) for _ in range(self._workers)))

    async def run(self, task: Callable[[StageCallback], T], on_stage: StageCallback) -> T:
        loop = asyncio.get_running_loop()
        token = next(self._tokens)
        listener = _Listener(loop, on_stage, asyncio.Event())
        with self._lock:
            self._listeners[token] = listener
        executor = self._executor
        try:
            result = await loop.run_in_executor(executor, _call, token, task)
            await listener.done.wait()
            return result
        except BrokenProcessPool:
            self._replace(executor)
            raise
        finally:
            with self._lock:
                self._listeners.pop(token, None)

    def close(self) -> None:
        """Stop the processes once their tasks are done, then release the stage queue.

        The queue's semaphores are named ones, unlinked when the queue is collected or at a normal
        exit. The server does not exit normally: uvicorn raises again the SIGTERM it caught, and exit
        handlers do not run. So the queue is let go here (the pool holds it too, as its processes'
        initializer argument); kept to the end, its semaphores would be left for multiprocessing's
        resource tracker to remove, with a warning about leaked semaphores.
        """
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._stages.put((-1, None))
        self._relay.join(5.0)
        self._stages.close()
        self._stages.join_thread()
        del self._executor, self._stages

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self._workers,
            mp_context=self._context,
            initializer=_install,
            initargs=(self._stages, os.getpid()),
        )

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is not broken:
                return
            logger.error("an analysis process died; starting a new pool")
            self._executor = self._new_executor()
        broken.shutdown(wait=False, cancel_futures=True)

    def _relay_stages(self) -> None:
        while True:
            token, stage = self._stages.get()
            if token < 0:
                return
            with self._lock:
                listener = self._listeners.get(token)
            if listener is None:
                continue
            callback = listener.done.set if stage is None else _bind(listener.on_stage, stage)
            try:
                listener.loop.call_soon_threadsafe(callback)
            except RuntimeError:  # the loop has closed
                continue


def _start_fork_server_deaf_to_sigterm() -> None:
    """Start the fork server ignoring SIGTERM (a disposition it keeps across exec), as its processes do.

    A SIGTERM to the whole process group would otherwise kill it, and the pool, which learns of its
    processes' exits through the fork server, would take every process for dead: it would fail the
    jobs under way and, on shutdown, send no process the order to stop, leaving them running.
    Signal dispositions can only be changed from the main thread; elsewhere the server starts as is.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _main_modules() -> list[str]:
    """What a new process imports to stand in for ``__main__``, loaded once by the fork server.

    Without it every process would run the main script again as it starts (a console script imports
    the whole CLI), which took seconds of CPU per process.
    """
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return ["__main__", spec.name] if spec is not None and spec.name else ["__main__"]


def _bind(callback: StageCallback, stage: str) -> Callable[[], None]:
    return lambda: callback(stage)
