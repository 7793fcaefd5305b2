"""Following a stream of job events live: persisted events after a position, then live ones, in order,
without gaps or repeats. A job's stream and a user's feed differ only in what they subscribe to, where
they read what was missed, and which number places an event."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from application.ports.analysis import JobEventSubscription, LiveEventsUnavailableError
from domain.analysis.jobs import JobEvent

# How often a stream reads the database while Redis (the live channel) is down.
LIVE_DOWN_POLL_SECONDS = 1.0
# The most events one catch-up query reads; a full page is followed at once by the next.
CATCH_UP_PAGE = 1000
# Catch-up queries in flight at once per process for each kind of stream. Thousands of streams can fall
# behind together (a burst of events whose live publish is slow or lost): beyond this they queue here,
# and each reads its events in turn, instead of queueing on the connection pool, whose bounded wait
# ended them ("postgres unavailable") by the thousand and left no connection for uploads.
CATCH_UP_CONCURRENCY = 4
logger = logging.getLogger(__name__)
T = TypeVar("T")


class CatchUpLimit:
    """At most ``limit`` catch-up queries of its streams run at once; the others wait for a turn."""

    def __init__(self, limit: int = CATCH_UP_CONCURRENCY) -> None:
        self._limit = limit
        self._turns: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run(self, query: Callable[[], Awaitable[T]]) -> T:
        loop = asyncio.get_running_loop()
        if self._turns is None or self._loop is not loop:
            self._turns, self._loop = asyncio.Semaphore(self._limit), loop
        async with self._turns:
            return await query()


@dataclass(frozen=True, slots=True)
class Followed:
    """What a stream follows. ``catch_up(after)`` answers persisted events placed after ``after``, oldest
    first, at most CATCH_UP_PAGE; ``position`` places an event (1, 2, ... without gaps); the stream
    ends after an event for which ``ends`` is true."""

    name: str
    subscribe: Callable[[], Awaitable[JobEventSubscription]]
    catch_up: Callable[[int], Awaitable[list[JobEvent]]]
    position: Callable[[JobEvent], int]
    ends: Callable[[JobEvent], bool]


async def follow(
    followed: Followed, after: int, heartbeat_seconds: float, poll_seconds: float = LIVE_DOWN_POLL_SECONDS
) -> AsyncIterator[JobEvent | None]:
    """Subscribes before reading the history so nothing falls between the two.

    Yields None at once when there is nothing to replay and after every ``heartbeat_seconds`` without
    news (the caller sends a keep-alive). Live events are taken in order and cost no query; a
    duplicate is dropped, and a gap or a quiet spell is filled from the database, the source of truth
    when a live publish was lost. While the live channel is down the stream polls the database (every
    ``poll_seconds``) instead, and goes live again once a subscription succeeds (tried at every
    heartbeat).
    """
    subscription = await _subscribe(followed)
    try:
        last = after
        pending = await followed.catch_up(last)
        if not pending:
            yield None
        quiet = 0.0
        while True:
            for event in pending:
                last = followed.position(event)
                yield event
                if followed.ends(event):
                    return
            if len(pending) >= CATCH_UP_PAGE:
                pending = await followed.catch_up(last)
                continue
            if subscription is None:
                await asyncio.sleep(poll_seconds)
                pending = await followed.catch_up(last)
                quiet = 0.0 if pending else quiet + poll_seconds
                if quiet >= heartbeat_seconds:
                    quiet = 0.0
                    yield None
                    subscription = await _subscribe(followed)
                continue
            try:
                live = await subscription.next(heartbeat_seconds)
            except LiveEventsUnavailableError:
                await subscription.close()
                subscription = None
                pending = await followed.catch_up(last)
                continue
            if live is None:
                pending = await followed.catch_up(last)
                if not pending:
                    yield None
            elif followed.position(live) == last + 1:
                pending = [live]
            elif followed.position(live) > last + 1:
                pending = await followed.catch_up(last)
            else:
                pending = []
    finally:
        if subscription is not None:
            await subscription.close()


async def _subscribe(followed: Followed) -> JobEventSubscription | None:
    """A live subscription, or None while the live channel is down (the stream polls meanwhile)."""
    try:
        return await followed.subscribe()
    except LiveEventsUnavailableError:
        logger.warning("live job events unavailable; following %s from the database", followed.name)
        return None
