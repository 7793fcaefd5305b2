"""Following a job's events: replay from the database, then live events, with gaps and losses repaired."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self
from uuid import UUID, uuid4

import pytest

from application.analysis.jobs import StreamHeads, UserJobs
from application.ports.analysis import LiveEventsUnavailableError
from application.ports.persistence import JobStreamHead
from domain.accounts import Principal, Role
from domain.analysis.jobs import EventType, Job, JobEvent, JobStatus
from domain.catalog import ReferenceKind
from domain.errors import NotFoundError

HEARTBEAT = 0.05
POLL = 0.01
NOW = datetime(2026, 1, 1, tzinfo=UTC)
OWNER = Principal(uuid4(), Role.USER)


@dataclass
class Store:
    jobs: dict[UUID, Job] = field(default_factory=dict)
    events: list[JobEvent] = field(default_factory=list)
    event_queries: int = 0

    def __call__(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)

    def record(self, job: Job, event_type: EventType) -> JobEvent:
        job.last_sequence += 1
        event = JobEvent(job.id, job.last_sequence, event_type, {}, NOW)
        self.events.append(event)
        if event_type.is_terminal:
            job.status = JobStatus.COMPLETED
        return event


class FakeUnitOfWork:
    def __init__(self, store: Store) -> None:
        self.jobs = self.job_events = self
        self._store = store

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def get(self, job_id: UUID) -> Job | None:
        return self._store.jobs.get(job_id)

    async def list_after(self, job_id: UUID, after_sequence: int) -> list[JobEvent]:
        self._store.event_queries += 1
        return [e for e in self._store.events if e.job_id == job_id and e.sequence > after_sequence]

    async def list_after_many(
        self, positions: Collection[tuple[UUID, int]], limit: int
    ) -> dict[tuple[UUID, int], list[JobEvent]]:
        self._store.event_queries += 1
        found = {
            (job_id, after): [e for e in self._store.events if e.job_id == job_id and e.sequence > after][
                :limit
            ]
            for job_id, after in positions
        }
        return {position: events for position, events in found.items() if events}

    async def stream_heads(self, job_ids: Collection[UUID]) -> dict[UUID, JobStreamHead]:
        self._store.event_queries += 1
        return {
            job_id: JobStreamHead(job.user_id, job.status, job.last_sequence)
            for job_id in job_ids
            if (job := self._store.jobs.get(job_id)) is not None
        }


class FakeSubscription:
    def __init__(self, feed: FakeFeed) -> None:
        self.live: asyncio.Queue[JobEvent] = asyncio.Queue()
        self.closed = False
        self._feed = feed

    async def next(self, timeout_seconds: float) -> JobEvent | None:
        if self._feed.down:
            raise LiveEventsUnavailableError("down")
        if timeout_seconds <= 0:
            return None if self.live.empty() else self.live.get_nowait()
        try:
            return await asyncio.wait_for(self.live.get(), timeout_seconds)
        except TimeoutError:
            return None

    async def close(self) -> None:
        self.closed = True


class FakeFeed:
    def __init__(self) -> None:
        self.subscriptions: list[FakeSubscription] = []
        self.down = False
        self.refused = 0

    async def subscribe(self, job_id: UUID) -> FakeSubscription:
        if self.down:
            self.refused += 1
            raise LiveEventsUnavailableError("down")
        self.subscriptions.append(FakeSubscription(self))
        return self.subscriptions[-1]

    @property
    def subscription(self) -> FakeSubscription:
        return self.subscriptions[-1]


class FixedClock:
    def now(self) -> datetime:
        return NOW


@dataclass
class World:
    store: Store
    feed: FakeFeed
    jobs: UserJobs
    job: Job


@pytest.fixture
def world() -> World:
    store, feed = Store(), FakeFeed()
    job = Job(uuid4(), OWNER.user_id, ReferenceKind.TOKEN, uuid4(), JobStatus.QUEUED, NOW, NOW)
    store.jobs[job.id] = job
    store.record(job, EventType.QUEUED)
    jobs = UserJobs(store, feed, FixedClock(), live_down_poll_seconds=POLL)  # type: ignore[arg-type]
    return World(store, feed, jobs, job)


async def _open(world: World, after: int = 0) -> AsyncIterator[JobEvent | None]:
    stream = await world.jobs.events(OWNER, world.job.id, after, HEARTBEAT)
    assert stream is not None
    return stream


async def _take(stream: AsyncIterator[JobEvent | None], count: int) -> list[Any]:
    """The next ``count`` items as sequences, or None for a keep-alive."""
    taken: list[Any] = []
    async with asyncio.timeout(2):
        for _ in range(count):
            item = await anext(stream)
            taken.append(None if item is None else item.sequence)
    return taken


def _publish(world: World, event: JobEvent) -> None:
    world.feed.subscription.live.put_nowait(event)


async def test_a_live_job_replays_its_history_first(world: World) -> None:
    stream = await _open(world)

    assert await _take(stream, 1) == [1]


async def test_a_live_job_with_nothing_to_replay_yields_a_keep_alive_at_once(world: World) -> None:
    stream = await _open(world, after=1)

    assert await _take(stream, 1) == [None]


async def test_live_events_in_sequence_cost_no_database_query(world: World) -> None:
    stream = await _open(world, after=1)
    await _take(stream, 1)
    queries = world.store.event_queries

    _publish(world, world.store.record(world.job, EventType.STARTED))
    _publish(world, world.store.record(world.job, EventType.PROGRESS))

    assert await _take(stream, 2) == [2, 3]
    assert world.store.event_queries == queries


async def test_a_live_event_already_delivered_is_dropped(world: World) -> None:
    stream = await _open(world)
    await _take(stream, 1)

    _publish(world, world.store.events[0])
    _publish(world, world.store.record(world.job, EventType.STARTED))

    assert await _take(stream, 1) == [2]


async def test_a_gap_in_live_events_is_filled_from_the_database(world: World) -> None:
    stream = await _open(world, after=1)
    await _take(stream, 1)

    world.store.record(world.job, EventType.STARTED)  # committed, its publish lost
    _publish(world, world.store.record(world.job, EventType.PROGRESS))

    assert await _take(stream, 2) == [2, 3]


async def test_an_event_whose_publish_was_lost_arrives_after_a_quiet_period(world: World) -> None:
    stream = await _open(world, after=1)
    await _take(stream, 1)

    world.store.record(world.job, EventType.STARTED)

    assert await _take(stream, 1) == [2]


async def test_a_quiet_period_yields_a_keep_alive(world: World) -> None:
    stream = await _open(world, after=1)

    assert await _take(stream, 2) == [None, None]


async def test_the_stream_ends_after_the_terminal_event_and_closes_its_subscription(world: World) -> None:
    stream = await _open(world)
    await _take(stream, 1)

    _publish(world, world.store.record(world.job, EventType.COMPLETED))

    assert [item async for item in stream] == [world.store.events[-1]]
    assert world.feed.subscription.closed


async def test_a_stream_closed_by_its_reader_closes_its_subscription(world: World) -> None:
    stream = await _open(world)
    await _take(stream, 1)

    await stream.aclose()  # type: ignore[attr-defined]

    assert world.feed.subscription.closed


async def test_a_finished_job_replays_its_history_without_subscribing(world: World) -> None:
    world.store.record(world.job, EventType.COMPLETED)

    stream = await _open(world)

    assert [event and event.sequence async for event in stream] == [1, 2]
    assert world.feed.subscriptions == []


async def test_a_finished_job_whose_last_event_was_seen_has_no_stream(world: World) -> None:
    world.store.record(world.job, EventType.COMPLETED)

    assert await world.jobs.events(OWNER, world.job.id, 2, HEARTBEAT) is None


async def test_another_users_job_is_not_found_before_anything_is_subscribed(world: World) -> None:
    stranger = Principal(uuid4(), Role.USER)

    with pytest.raises(NotFoundError):
        await world.jobs.events(stranger, world.job.id, 0, HEARTBEAT)
    assert world.feed.subscriptions == []


async def test_with_the_live_channel_down_a_stream_polls_the_database_until_the_end(world: World) -> None:
    world.feed.down = True
    stream = await _open(world)
    assert await _take(stream, 1) == [1]
    world.store.record(world.job, EventType.PROGRESS)
    world.store.record(world.job, EventType.COMPLETED)

    assert await _take(stream, 2) == [2, 3]
    assert world.feed.subscriptions == []


async def test_a_live_channel_lost_mid_stream_is_replaced_by_polling(world: World) -> None:
    stream = await _open(world)
    assert await _take(stream, 1) == [1]
    world.feed.down = True
    world.store.record(world.job, EventType.PROGRESS)  # its live publish was lost with Redis

    assert await _take(stream, 1) == [2]
    assert world.feed.subscriptions[0].closed


async def test_a_polling_stream_keeps_alive_and_goes_live_again_once_the_channel_is_back(
    world: World,
) -> None:
    world.feed.down = True
    stream = await _open(world)
    assert await _take(stream, 2) == [1, None]  # a keep-alive after a heartbeat of nothing new
    world.feed.down = False  # the stream tries to subscribe again after each keep-alive
    assert await _take(stream, 1) == [None]
    assert len(world.feed.subscriptions) == 1

    _publish(world, world.store.record(world.job, EventType.PROGRESS))

    assert await _take(stream, 1) == [2]


async def test_the_checks_of_many_streams_share_one_query() -> None:
    store = Store()
    jobs = [
        Job(uuid4(), OWNER.user_id, ReferenceKind.TOKEN, uuid4(), JobStatus.QUEUED, NOW, NOW)
        for _ in range(50)
    ]
    for index, job in enumerate(jobs):
        store.jobs[job.id] = job
        for _ in range(index):
            store.record(job, EventType.PROGRESS)
    heads = StreamHeads(store)  # type: ignore[arg-type]

    answers = await asyncio.gather(*(heads.of(job.id) for job in jobs), heads.of(uuid4()))

    assert [answer and answer.last_sequence for answer in answers] == [*range(50), None]
    assert store.event_queries == 1


async def test_streams_opening_together_check_their_owner_in_one_shared_query() -> None:
    store, feed = Store(), FakeFeed()
    stranger = Principal(uuid4(), Role.USER)
    jobs = [
        Job(uuid4(), OWNER.user_id, ReferenceKind.TOKEN, uuid4(), JobStatus.QUEUED, NOW, NOW)
        for _ in range(20)
    ]
    for job in jobs:
        store.jobs[job.id] = job
        store.record(job, EventType.QUEUED)
    user_jobs = UserJobs(store, feed, FixedClock(), live_down_poll_seconds=POLL)  # type: ignore[arg-type]

    opened = await asyncio.gather(
        *(user_jobs.events(OWNER, job.id, 1, HEARTBEAT) for job in jobs),
        user_jobs.events(stranger, jobs[0].id, 0, HEARTBEAT),
        return_exceptions=True,
    )

    assert all(stream is not None and not isinstance(stream, BaseException) for stream in opened[:-1])
    assert isinstance(opened[-1], NotFoundError)
    assert store.event_queries == 1


async def test_a_failed_batched_check_fails_every_stream_waiting_for_it() -> None:
    class Down(Store):
        def __call__(self) -> FakeUnitOfWork:
            raise ConnectionRefusedError("postgres is down")

    heads = StreamHeads(Down())  # type: ignore[arg-type]

    answers = await asyncio.gather(*(heads.of(uuid4()) for _ in range(3)), return_exceptions=True)

    assert all(isinstance(answer, ConnectionRefusedError) for answer in answers)


async def test_streams_behind_together_read_their_history_in_one_shared_query() -> None:
    """Thousands of streams behind at once (a burst committed faster than it is published) each read
    their own events, from their own positions, in one query: not one query each, queued."""
    store = Store()
    jobs = [
        Job(uuid4(), OWNER.user_id, ReferenceKind.TOKEN, uuid4(), JobStatus.QUEUED, NOW, NOW)
        for _ in range(40)
    ]
    for job in jobs:
        store.jobs[job.id] = job
        for _ in range(3):
            store.record(job, EventType.PROGRESS)
    user_jobs = UserJobs(store, FakeFeed(), FixedClock(), live_down_poll_seconds=POLL)  # type: ignore[arg-type]

    answers = await asyncio.gather(
        *(user_jobs.catch_up(job.id, index % 4) for index, job in enumerate(jobs)),
        user_jobs.catch_up(uuid4(), 0),
    )

    assert [[(e.job_id, e.sequence) for e in answer] for answer in answers] == [
        *([(job.id, sequence) for sequence in range(index % 4 + 1, 4)] for index, job in enumerate(jobs)),
        [],
    ]
    assert store.event_queries == 1
