"""A user's feed: every event of every one of their jobs, in one stream resumable from a cursor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID

from application.analysis.following import (
    CATCH_UP_PAGE,
    LIVE_DOWN_POLL_SECONDS,
    CatchUpLimit,
    Followed,
    follow,
)
from application.ports.analysis import JobEventFeed
from application.ports.persistence import UnitOfWorkFactory
from application.ports.security import AccessToken, StreamTickets
from domain.accounts import Principal
from domain.analysis.jobs import JobEvent


def feed_position(event: JobEvent) -> int:
    """An event's place in its owner's feed; a stored or published event always has one."""
    if event.feed_sequence is None:
        raise ValueError(f"event {event.sequence} of job {event.job_id} has no place in a feed")
    return event.feed_sequence


class UserFeed:
    """The caller's own events only: the cursor counts within their feed (``feed_sequence``), and both
    the live channel and the catch-up query are the caller's."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        feed: JobEventFeed,
        tickets: StreamTickets,
        live_down_poll_seconds: float = LIVE_DOWN_POLL_SECONDS,
    ) -> None:
        self._uow = uow
        self._feed = feed
        self._tickets = tickets
        self._poll_seconds = live_down_poll_seconds
        self._catch_ups = CatchUpLimit()

    def events(
        self, principal: Principal, after: int | None, heartbeat_seconds: float
    ) -> AsyncIterator[JobEvent | None]:
        """The caller's events placed after ``after`` (None: after their newest event, from now on):
        persisted ones, then live ones, never ending. Yields None at once when there is nothing to
        replay and after every quiet ``heartbeat_seconds``.
        """
        if after is None:
            return self._from_now(principal, heartbeat_seconds)
        return self._follow(principal.user_id, after, heartbeat_seconds)

    async def _from_now(
        self, principal: Principal, heartbeat_seconds: float
    ) -> AsyncIterator[JobEvent | None]:
        # Read before following subscribes: what commits in between is past it and so caught up.
        async with self._uow() as uow:
            newest = await uow.job_events.last_feed_sequence(principal.user_id)
        async for item in self._follow(principal.user_id, newest, heartbeat_seconds):
            yield item

    def _follow(self, user_id: UUID, after: int, heartbeat_seconds: float) -> AsyncIterator[JobEvent | None]:
        followed = Followed(
            name=f"the feed of user {user_id}",
            subscribe=lambda: self._feed.subscribe_user(user_id),
            catch_up=lambda cursor: self.catch_up(user_id, cursor),
            position=feed_position,
            ends=lambda _: False,
        )
        return follow(followed, after, heartbeat_seconds, self._poll_seconds)

    async def catch_up(self, user_id: UUID, after: int) -> list[JobEvent]:
        return await self._catch_ups.run(lambda: self._list_after(user_id, after))

    async def _list_after(self, user_id: UUID, after: int) -> list[JobEvent]:
        async with self._uow() as uow:
            return await uow.job_events.list_for_user_after(user_id, after, CATCH_UP_PAGE)

    def issue_ticket(self, principal: Principal) -> AccessToken:
        return self._tickets.issue_feed(principal)

    def verify_ticket(self, ticket: str) -> Principal:
        return self._tickets.verify_feed(ticket)
