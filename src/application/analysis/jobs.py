"""A user's jobs: list, read, cancel, and follow their events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID

from application.analysis.following import LIVE_DOWN_POLL_SECONDS, CatchUpLimit, Followed, follow
from application.ports.analysis import JobEventFeed
from application.ports.persistence import (
    JobFilter,
    JobStats,
    JobStreamHead,
    Page,
    PageRequest,
    UnitOfWorkFactory,
)
from application.ports.security import AccessToken, StreamTickets
from application.ports.system import Clock
from domain.accounts import Principal
from domain.analysis.jobs import Job, JobEvent
from domain.errors import NotFoundError


class StreamHeads:
    """Each followed job's owner, status and newest event sequence, read for many streams in one query.

    Every stream asks when it opens (whose job it is, whether it is finished) and after every quiet
    heartbeat (whether it missed an event). 10,000 streams asking one query each, each in its own pooled
    transaction, exhausted the connection pool and most of the API's CPU. Asks made while a query is in
    flight wait for the next one, which answers all of them (at most BATCH_LIMIT ids a query).
    """

    BATCH_LIMIT = 2000

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow
        self._waiting: dict[UUID, list[asyncio.Future[JobStreamHead | None]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def of(self, job_id: UUID) -> JobStreamHead | None:
        """The job's head (None for an unknown job); raises what the database raised."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[JobStreamHead | None] = loop.create_future()
        self._waiting.setdefault(job_id, []).append(answer)
        if self._reader is None or self._reader.done() or self._reader.get_loop() is not loop:
            self._reader = loop.create_task(self._read(), name="job-stream-heads")
        return await answer

    async def _read(self) -> None:
        while self._waiting:
            batch = dict(list(self._waiting.items())[: self.BATCH_LIMIT])
            for job_id in batch:
                del self._waiting[job_id]
            try:
                async with self._uow() as uow:
                    heads = await uow.job_events.stream_heads(list(batch))
            except Exception as error:
                for answers in batch.values():
                    for answer in answers:
                        if not answer.done():
                            answer.set_exception(error)
                            answer.exception()  # retrieved: a stream that left meanwhile logs nothing
                continue
            for job_id, answers in batch.items():
                for answer in answers:
                    if not answer.done():
                        answer.set_result(heads.get(job_id))


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
        self._catch_ups = CatchUpLimit()

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
            catch_up=lambda after: self._news(job_id, after),
            position=lambda event: event.sequence,
            ends=lambda event: event.type.is_terminal,
        )
        return follow(followed, after_sequence, heartbeat_seconds, self._poll_seconds)

    async def _news(self, job_id: UUID, after_sequence: int) -> list[JobEvent]:
        """Persisted events after ``after_sequence``; when there are none (the common case: the stream
        is up to date), this costs a share of one query batched with other streams'."""
        head = await self._heads.of(job_id)
        if head is None or head.last_sequence <= after_sequence:
            return []
        return await self.catch_up(job_id, after_sequence)

    async def catch_up(self, job_id: UUID, after_sequence: int) -> list[JobEvent]:
        """Persisted events after ``after_sequence``, oldest first (a few streams' queries at a time)."""
        return await self._catch_ups.run(lambda: self._list_after(job_id, after_sequence))

    async def _list_after(self, job_id: UUID, after_sequence: int) -> list[JobEvent]:
        async with self._uow() as uow:
            return await uow.job_events.list_after(job_id, after_sequence)

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
