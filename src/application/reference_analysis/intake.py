"""Accepting analysis orders: once per job id, into a bounded queue that a fixed number of tasks work off."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import statistics
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from application.reference_analysis.orders import AnalysisOrder

logger = logging.getLogger(__name__)

Monotonic = Callable[[], float]
MAX_RETRY_AFTER_SECONDS = 60
# What a job is assumed to take before any has finished.
INITIAL_JOB_SECONDS = 1.0


class QueueFullError(Exception):
    """Every worker is busy and the queue is full; ``retry_after_seconds`` estimates when room frees up."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"the analysis queue is full; retry in {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


class NotAcceptingError(Exception):
    """The server is stopping and takes no new work."""


@dataclass(frozen=True, slots=True)
class Acceptance:
    job_id: UUID
    status: Literal["accepted", "duplicate"]


@dataclass(frozen=True, slots=True)
class IntakeSettings:
    """``queue_size`` orders wait while ``concurrency`` are being analysed; job ids are remembered for
    ``remember_seconds``, at most ``remembered_jobs`` of them."""

    concurrency: int = 2
    queue_size: int = 32
    remembered_jobs: int = 10_000
    remember_seconds: float = 3600.0

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.queue_size < 1 or self.remembered_jobs < 1:
            raise ValueError("concurrency, queue_size and remembered_jobs must be at least 1")
        if self.remember_seconds <= 0:
            raise ValueError("remember_seconds must be positive")


class RecentJobs:
    """The job ids accepted lately, each for ``ttl_seconds``, at most ``capacity`` (the oldest go first).

    Held in this process only, so a restarted server forgets them and analyses a repeated job again.
    That is harmless: the webhooks of a job carry the same ids every time (see reporting.webhook_id),
    so the API applies none of them twice. A job lost with the process (accepted, never reported
    finished) fails at the API when its deadline passes.
    """

    def __init__(self, capacity: int, ttl_seconds: float, monotonic: Monotonic = time.monotonic) -> None:
        self._capacity = capacity
        self._ttl = ttl_seconds
        self._monotonic = monotonic
        self._expiry: OrderedDict[UUID, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._expiry)

    def __contains__(self, job_id: object) -> bool:
        self._forget_expired()
        return job_id in self._expiry

    def add(self, job_id: UUID) -> None:
        self._forget_expired()
        self._expiry[job_id] = self._monotonic() + self._ttl
        self._expiry.move_to_end(job_id)
        while len(self._expiry) > self._capacity:
            self._expiry.popitem(last=False)

    def _forget_expired(self) -> None:
        now = self._monotonic()
        # Every entry lives equally long, so insertion order is expiry order.
        while self._expiry:
            job_id, expires = next(iter(self._expiry.items()))
            if expires > now:
                return
            del self._expiry[job_id]


class AnalysisIntake:
    """Accepts each job id once and queues it; ``concurrency`` tasks take orders off the queue in turn.

    A repeated job id is answered ``duplicate`` and changes nothing, whether the job is queued, being
    analysed or done. When the queue is full the order is refused with an estimate of when to retry,
    and it is not remembered, so the retry is accepted.
    """

    def __init__(
        self,
        process: Callable[[AnalysisOrder], Awaitable[object]],
        settings: IntakeSettings,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        self._process = process
        self._settings = settings
        self._monotonic = monotonic
        self._recent = RecentJobs(settings.remembered_jobs, settings.remember_seconds, monotonic)
        self._queue: asyncio.Queue[AnalysisOrder] = asyncio.Queue(maxsize=settings.queue_size)
        self._workers: list[asyncio.Task[None]] = []
        self._durations: deque[float] = deque(maxlen=20)
        self._accepting = False
        self.active = 0

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    @property
    def accepting(self) -> bool:
        return self._accepting

    def submit(self, order: AnalysisOrder) -> Acceptance:
        if not self._accepting:
            raise NotAcceptingError("the analysis server is not accepting work")
        if order.job_id in self._recent:
            return Acceptance(order.job_id, "duplicate")
        try:
            self._queue.put_nowait(order)
        except asyncio.QueueFull:
            raise QueueFullError(self.retry_after_seconds()) from None
        self._recent.add(order.job_id)
        return Acceptance(order.job_id, "accepted")

    def retry_after_seconds(self) -> int:
        """How long until a queued order is likely to have started: the backlog at the recent job time."""
        typical = statistics.median(self._durations) if self._durations else INITIAL_JOB_SECONDS
        backlog = self.waiting * typical / self._settings.concurrency
        return max(1, min(MAX_RETRY_AFTER_SECONDS, math.ceil(backlog)))

    def start(self) -> None:
        if self._workers:
            return
        self._accepting = True
        self._workers = [
            asyncio.create_task(self._work(), name=f"analysis-{number}")
            for number in range(self._settings.concurrency)
        ]

    async def stop(self, grace_seconds: float) -> None:
        """Refuse new orders, let queued and running ones finish within the grace, then cancel the rest."""
        self._accepting = False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), grace_seconds)
        if self.waiting or self.active:
            logger.warning("stopping with %d orders running and %d waiting", self.active, self.waiting)
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []

    async def _work(self) -> None:
        while True:
            order = await self._queue.get()
            began = self._monotonic()
            self.active += 1
            try:
                await self._process(order)
            except Exception:
                logger.exception("job %s failed in the analysis queue", order.job_id)
            finally:
                self.active -= 1
                self._durations.append(self._monotonic() - began)
                self._queue.task_done()
