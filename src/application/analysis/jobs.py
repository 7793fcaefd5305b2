"""A user's jobs: list, read, cancel, and follow their events."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar
from uuid import UUID

from application.analysis.following import CATCH_UP_PAGE, LIVE_DOWN_POLL_SECONDS, Followed, follow
from application.ports.analysis import JobEventFeed
from application.ports.persistence import (
    JobFilter,
    JobStats,
    JobStreamHead,
    Page,
    PageRequest,
    UnitOfWork,
    UnitOfWorkFactory,
)
from application.ports.security import AccessToken, StreamTickets
from application.ports.system import Clock
from domain.accounts import Principal
from domain.analysis.jobs import Job, JobEvent
from domain.errors import NotFoundError

K = TypeVar("K")
V = TypeVar("V")


class BatchedReads(ABC, Generic[K, V]):
    """One query answers the reads of many streams: reads asked while a query is in flight wait for
    the next one, which answers all of them (at most ``batch_limit`` keys a query). A key the query
    does not answer reads as None."""

    batch_limit = 500
    name = "batched-reads"

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow
        self._waiting: dict[K, list[asyncio.Future[V | None]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def of(self, key: K) -> V | None:
        """The answer for ``key``; raises what the database raised."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[V | None] = loop.create_future()
        self._waiting.setdefault(key, []).append(answer)
        if self._reader is None or self._reader.done() or self._reader.get_loop() is not loop:
            self._reader = loop.create_task(self._read_all(), name=self.name)
        return await answer

    @abstractmethod
    async def _read(self, uow: UnitOfWork, keys: list[K]) -> Mapping[K, V]:
        """The answers for ``keys``, in one query."""

    async def _read_all(self) -> None:
        while self._waiting:
            batch = dict(list(self._waiting.items())[: self.batch_limit])
            for key in batch:
                del self._waiting[key]
            try:
                async with self._uow() as uow:
                    answers = await self._read(uow, list(batch))
            except Exception as error:
                for waiting in batch.values():
                    for answer in waiting:
                        if not answer.done():
                            answer.set_exception(error)
                            answer.exception()  # retrieved: a stream that left meanwhile logs nothing
                continue
            for key, waiting in batch.items():
                for answer in waiting:
                    if not answer.done():
                        answer.set_result(answers.get(key))


class StreamHeads(BatchedReads[UUID, JobStreamHead]):
    """Each followed job's owner, status and newest event sequence, read for many streams in one query.

    Every stream asks when it opens (whose job it is, whether it is finished). 10,000 streams asking
    one query each, each in its own pooled transaction, exhausted the connection pool and most of the
    API's CPU.
    """

    batch_limit = 2000
    name = "job-stream-heads"

    async def _read(self, uow: UnitOfWork, keys: list[UUID]) -> Mapping[UUID, JobStreamHead]:
        return await uow.job_events.stream_heads(keys)


class StreamNews(BatchedReads[tuple[UUID, int], list[JobEvent]]):
    """Each stream's persisted events after its position (at most CATCH_UP_PAGE), for many streams in
    one query: what a stream reads when it opens, after a quiet heartbeat and when it sees a gap.

    Thousands of streams ask together when a burst of events is committed faster than it is published:
    their heartbeats find the database ahead of the live channel. One query a stream, even a few at a
    time, queued them for seconds while their live events waited behind (publish -> client p99 13 s at
    10,000 streams); a query for 500 of them costs about what one did.
    """

    name = "job-stream-news"

    async def _read(
        self, uow: UnitOfWork, keys: list[tuple[UUID, int]]
    ) -> Mapping[tuple[UUID, int], list[JobEvent]]:
        return await uow.job_events.list_after_many(keys, CATCH_UP_PAGE)


@dataclass(frozen=True, slots=True)
class History:
    jobs: Page[Job]
    stats: JobStats


class UserJobs:
    """Every query is scoped to the caller: another user's job is indistinguishable from none."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        feed: JobEventFeed,
        clock: Clock,
        live_down_poll_seconds: float = LIVE_DOWN_POLL_SECONDS,
    ) -> None:
        self._uow = uow
        self._feed = feed
        self._clock = clock
        self._poll_seconds = live_down_poll_seconds
        self._heads = StreamHeads(uow)
        self._news = StreamNews(uow)

    async def get(self, principal: Principal, job_id: UUID) -> Job:
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
        if job is None or job.user_id != principal.user_id:
            raise NotFoundError("job", job_id)
        return job

    async def list_jobs(self, principal: Principal, filters: JobFilter, page: PageRequest) -> Page[Job]:
        async with self._uow() as uow:
            return await uow.jobs.list_for_user(principal.user_id, filters, page)

    async def history(self, principal: Principal, page: PageRequest) -> History:
        async with self._uow() as uow:
            jobs = await uow.jobs.list_for_user(principal.user_id, JobFilter(), page)
            stats = await uow.jobs.stats_for_user(principal.user_id)
        return History(jobs, stats)

    async def cancel(self, principal: Principal, job_id: UUID) -> Job:
        async with self._uow() as uow:
            job = await uow.jobs.get_for_update(job_id)
            if job is None or job.user_id != principal.user_id:
                raise NotFoundError("job", job_id)
            job.cancel(self._clock.now())
            await uow.jobs.save(job)
            await uow.commit()
        return job

    async def events(
        self, principal: Principal, job_id: UUID, after_sequence: int, heartbeat_seconds: float = 15.0
    ) -> AsyncIterator[JobEvent | None] | None:
        """The caller's job's events after ``after_sequence``: persisted ones, then live ones.

        Access is checked here, before anything streams (NotFoundError for another user's job). None
        means the job is finished and the caller has seen its last event: there is nothing to stream.
        A finished job's stream replays its history and ends. A live job's stream yields None at once
        when there is nothing to replay and after every ``heartbeat_seconds`` without news (the
        caller sends a keep-alive), and ends after the terminal event.

        The check is a share of one query batched with every other stream opening or checking at the
        same moment, not a transaction of its own.
        """
        head = await self._heads.of(job_id)
        if head is None or head.user_id != principal.user_id:
            raise NotFoundError("job", job_id)
        if not head.status.is_terminal:
            return self._follow(job_id, after_sequence, heartbeat_seconds)
        if after_sequence >= head.last_sequence:
            return None
        return self._replay(job_id, after_sequence)

    def _follow(
        self, job_id: UUID, after_sequence: int, heartbeat_seconds: float
    ) -> AsyncIterator[JobEvent | None]:
        followed = Followed(
            name=f"job {job_id}",
            subscribe=lambda: self._feed.subscribe(job_id),
            catch_up=lambda after: self.catch_up(job_id, after),
            position=lambda event: event.sequence,
            ends=lambda event: event.type.is_terminal,
        )
        return follow(followed, after_sequence, heartbeat_seconds, self._poll_seconds)

    async def catch_up(self, job_id: UUID, after_sequence: int) -> list[JobEvent]:
        """Persisted events after ``after_sequence``, oldest first (at most CATCH_UP_PAGE): a share of
        one query batched with every other stream's catch-up at the same moment."""
        return await self._news.of((job_id, after_sequence)) or []

    async def _replay(self, job_id: UUID, after_sequence: int) -> AsyncIterator[JobEvent | None]:
        for event in await self.catch_up(job_id, after_sequence):
            yield event


class JobStreamTickets:
    """Tickets for following one of the caller's jobs where no Authorization header can be sent: a
    browser's EventSource puts the ticket in the stream's URL instead."""

    def __init__(self, jobs: UserJobs, tickets: StreamTickets) -> None:
        self._jobs = jobs
        self._tickets = tickets

    async def issue(self, principal: Principal, job_id: UUID) -> AccessToken:
        await self._jobs.get(principal, job_id)  # NotFoundError for another user's job
        return self._tickets.issue(principal, job_id)

    def verify(self, ticket: str, job_id: UUID) -> Principal:
        return self._tickets.verify(ticket, job_id)
