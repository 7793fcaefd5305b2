"""The relay's fast path over Redis pub/sub: a committed outbox row wakes the workers, which claim the
due rows in batches.

The API publishes each committed row's id on one channel per deployment (one ``PUBLISH``, where an SAQ
job per row cost the API an enqueue script and the worker SAQ's own Redis traffic per job). Every
listening worker claims what is due with ``SKIP LOCKED``, so wake-ups arriving together are served by
one claim. A wake-up lost (Redis down, no worker listening, a subscriber's backlog overflowing) only
delays its row until the worker's sweep, which needs only Postgres.
"""

from __future__ import annotations

from uuid import UUID

from adapters.events.redis_fanout import LocalSubscriber, RedisEventFanout

CHANNEL_SUFFIX = ":relay-wakeups"


def wakeup_channel(queue_name: str) -> str:
    """Deployments sharing a Redis are kept apart by their queue name, as their SAQ queues are."""
    return f"{queue_name}{CHANNEL_SUFFIX}"


class RedisRelayWakeups:
    """The ``RelayQueue`` port for the API, and the workers' subscription to it."""

    def __init__(self, fanout: RedisEventFanout, queue_name: str) -> None:
        self._fanout = fanout
        self._channel = wakeup_channel(queue_name)

    async def enqueue_relay(self, outbox_id: UUID) -> None:
        """Raise ``TimeoutError`` when Redis does not take the wake-up promptly (the sweep relays the row)."""
        await self._fanout.publish([(self._channel, outbox_id.bytes)])

    async def subscribe(self) -> RelayWakeupSubscription:
        """Wake-ups from now on; raises when Redis does not answer (try again later)."""
        return RelayWakeupSubscription(
            self._fanout, self._channel, await self._fanout.join_raw(self._channel)
        )


class RelayWakeupSubscription:
    def __init__(self, fanout: RedisEventFanout, channel: str, subscriber: LocalSubscriber[bytes]) -> None:
        self._fanout = fanout
        self._channel = channel
        self._subscriber = subscriber

    async def wait(self, timeout_seconds: float) -> int:
        """How many wake-ups arrived: waits up to ``timeout_seconds`` for the first, then takes the ones
        already queued behind it, so one claim serves them all. 0 when none came in time."""
        if await self._subscriber.receive(timeout_seconds) is None:
            return 0
        woken = 1
        while await self._subscriber.receive(0) is not None:
            woken += 1
        return woken

    def close(self) -> None:
        self._fanout.leave(self._subscriber, self._channel)
