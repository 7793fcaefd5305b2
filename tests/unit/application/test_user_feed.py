"""A user's feed: their events of all jobs by feed place, replayed then live, with gaps repaired, and
never another user's; ``None`` as the cursor starts at the present."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from uuid import UUID, uuid4

from tests.unit.application.test_job_event_stream import HEARTBEAT, NOW, POLL, FakeFeed, FakeSubscription

from application.analysis.feed import UserFeed
from domain.accounts import Principal, Role
from domain.analysis.jobs import EventType, JobEvent

ALICE, BOB = Principal(uuid4(), Role.USER), Principal(uuid4(), Role.USER)


class FeedStore:
    def __init__(self) -> None:
        self.events: list[JobEvent] = []

    def __call__(self) -> FeedStore:
        return self

    async def __aenter__(self) -> FeedStore:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    @property
    def job_events(self) -> FeedStore:
        return self

    def record(self, user: Principal, event_type: EventType = EventType.PROGRESS) -> JobEvent:
        place = 1 + sum(1 for e in self.events if e.user_id == user.user_id)
        event = JobEvent(uuid4(), 1, event_type, {}, NOW, user.user_id, place)
        self.events.append(event)
        return event

    async def list_for_user_after(self, user_id: UUID, after: int, limit: int) -> list[JobEvent]:
        mine = [e for e in self.events if e.user_id == user_id and (e.feed_sequence or 0) > after]
        return mine[:limit]

    async def last_feed_sequence(self, user_id: UUID) -> int:
        return sum(1 for e in self.events if e.user_id == user_id)


class UserChannels(FakeFeed):
    def __init__(self) -> None:
        super().__init__()
        self.users: list[UUID] = []

    async def subscribe_user(self, user_id: UUID) -> FakeSubscription:
        self.users.append(user_id)
        return await self.subscribe(user_id)


async def _take(stream: AsyncIterator[JobEvent | None], count: int) -> list[Any]:
    """The next ``count`` items as feed places, or None for a keep-alive."""
    taken: list[Any] = []
    async with asyncio.timeout(2):
        for _ in range(count):
            item = await anext(stream)
            taken.append(None if item is None else item.feed_sequence)
    return taken


def _feed(store: FeedStore, channels: UserChannels) -> UserFeed:
    return UserFeed(store, channels, tickets=None, live_down_poll_seconds=POLL)  # type: ignore[arg-type]


async def test_the_feed_replays_the_users_events_after_the_cursor_then_takes_live_ones_in_order() -> None:
    store, channels = FeedStore(), UserChannels()
    for _ in range(3):
        store.record(ALICE)
    store.record(BOB)
    stream = _feed(store, channels).events(ALICE, 1, HEARTBEAT)

    replayed = await _take(stream, 2)
    live = store.record(ALICE)
    await channels.subscription.live.put(live)
    duplicate = replace(live)
    await channels.subscription.live.put(duplicate)  # a repeat is dropped
    gap = [store.record(ALICE), store.record(ALICE)]
    await channels.subscription.live.put(gap[1])  # place 5 never came live: read from the store
    rest = await _take(stream, 3)

    assert replayed == [2, 3]
    assert rest == [4, 5, 6]
    assert channels.users == [ALICE.user_id]
    await stream.aclose()  # type: ignore[attr-defined]
    assert channels.subscription.closed


async def test_no_cursor_now_starts_after_the_newest_event() -> None:
    store, channels = FeedStore(), UserChannels()
    store.record(ALICE)
    stream = _feed(store, channels).events(ALICE, None, HEARTBEAT)

    opening = await _take(stream, 1)
    await channels.subscription.live.put(store.record(ALICE))

    assert opening == [None]
    assert await _take(stream, 1) == [2]
