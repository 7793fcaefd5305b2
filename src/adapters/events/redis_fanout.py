"""Live job events over Redis pub/sub, fanned out to this process's SSE streams with redis-py's public API.

One channel per job (``job:<id>``) and one per user (``user:<id>``, every event of their jobs, for
their feed). A publish of any number of events is one Redis round trip (a pipeline of PUBLISHes),
shared with the Redis calls other requests make meanwhile (``RedisAutoPipeline``). A
process holds one pub/sub connection and one reader task, opened at its first subscription; the reader
decodes each message once and hands the same event to every local subscriber of its channel. A
subscriber costs a bounded queue and a set entry, no task. History and catch-up stay in Postgres.
"""

from __future__ import annotations

import asyncio
import logging
import math
import weakref
from collections import deque
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from adapters.redis_pipelining import RedisAutoPipeline, cancel_until_done
from application.ports.analysis import LiveEventsUnavailableError
from domain.analysis.jobs import EventType, JobEvent
from shared_kernel import tracing

CHANNEL_PREFIX = "job:"
USER_CHANNEL_PREFIX = "user:"
# A slow SSE client must not grow memory without bound: its oldest live events are dropped, and it
# catches up from Postgres.
SUBSCRIBER_BACKLOG = 1000
# Publishing happens on request paths (an upload, a webhook) after the commit, and joining when a stream
# opens: a stalled Redis must not hold either. Past these bounds the publish is dropped (streams catch up
# from Postgres) and the stream follows Postgres instead. JOIN_TIMEOUT_SECONDS bounds Redis taking one
# batch's SUBSCRIBE (or UNSUBSCRIBE); JOIN_WAIT_SECONDS a stream's whole wait, its batch's turn included.
# Thousands of streams opening at once keep a busy process's event loop late by a second or more, with
# Redis answering at once: bounding the whole wait by Redis's bound sent those streams to Postgres.
PUBLISH_TIMEOUT_SECONDS = 0.3
JOIN_TIMEOUT_SECONDS = 1.0
JOIN_WAIT_SECONDS = 5.0
RECONNECT_GRACE_SECONDS = 1.0
UNSUBSCRIBE_RETRY_SECONDS = 1.0
READ_RETRY_SECONDS = 0.5
STOP_POLL_SECONDS = 0.1
# Waits for a message end at most this much after their timeout (one shared timer per tick).
TIMER_RESOLUTION_SECONDS = 0.01
logger = logging.getLogger(__name__)


def job_channel(job_id: UUID) -> str:
    return f"{CHANNEL_PREFIX}{job_id}"


def user_channel(user_id: UUID) -> str:
    return f"{USER_CHANNEL_PREFIX}{user_id}"


T = TypeVar("T")


class SharedTimer:
    """Wakes waiters at their deadlines with one event-loop timer per tick, however many wait.

    10,000 SSE streams each waiting for a message or their heartbeat used to arm a timer of their own
    per wait (``asyncio.timeout``): a heap entry pushed and, as a message nearly always came first,
    cancelled again per message per stream. Here a wait joins the set of its deadline's tick (deadlines
    rounded up to ``resolution``): one ``call_at`` per tick, and leaving early is a set removal.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, resolution: float = TIMER_RESOLUTION_SECONDS) -> None:
        self._loop = loop
        self._resolution = resolution
        self._ticks: dict[int, set[asyncio.Future[None]]] = {}

    def wake(self, waiter: asyncio.Future[None], after_seconds: float) -> int:
        """Resolve ``waiter`` (with None) ``after_seconds`` from now, at most one tick later; returns the
        tick, for ``forget``."""
        tick = math.ceil((self._loop.time() + after_seconds) / self._resolution)
        waiters = self._ticks.get(tick)
        if waiters is None:
            waiters = self._ticks[tick] = set()
            self._loop.call_at(tick * self._resolution, self._fire, tick)
        waiters.add(waiter)
        return tick

    def forget(self, waiter: asyncio.Future[None], tick: int) -> None:
        waiters = self._ticks.get(tick)
        if waiters is not None:
            waiters.discard(waiter)

    @property
    def pending(self) -> int:
        return sum(len(waiters) for waiters in self._ticks.values())

    def _fire(self, tick: int) -> None:
        for waiter in self._ticks.pop(tick, ()):
            if not waiter.done():
                waiter.set_result(None)


_timers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SharedTimer] = weakref.WeakKeyDictionary()


def shared_timer(loop: asyncio.AbstractEventLoop) -> SharedTimer:
    """The loop's shared timer."""
    timer = _timers.get(loop)
    if timer is None:
        timer = _timers[loop] = SharedTimer(loop)
    return timer


class LocalSubscriber(Generic[T]):
    """One SSE stream's inbox: a bounded buffer that drops its oldest message when full, read by one
    reader at a time. A wait costs a future and a place in the shared timer's tick, no task, no timer
    of its own."""

    def __init__(self, backlog: int = SUBSCRIBER_BACKLOG) -> None:
        self._messages: deque[T] = deque(maxlen=backlog)
        self._waiter: asyncio.Future[None] | None = None

    def put(self, message: T) -> None:
        self._messages.append(message)  # a full deque drops its oldest
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def receive(self, timeout_seconds: float) -> T | None:
        """The oldest message, waiting up to ``timeout_seconds`` (a tick more at most) for one; None
        when none came."""
        if self._messages:
            return self._messages.popleft()
        if timeout_seconds <= 0:
            return None
        loop = asyncio.get_running_loop()
        timer = shared_timer(loop)
        waiter = self._waiter = loop.create_future()
        tick = timer.wake(waiter, timeout_seconds)
        try:
            await waiter
        finally:
            self._waiter = None
            timer.forget(waiter, tick)
        return self._messages.popleft() if self._messages else None


class RedisEventFanout:
    """This process's share of Redis pub/sub: channels subscribed while a local subscriber wants them.

    Leaving is synchronous, so it completes in a cancelled task (a disconnected client). Redis is told
    by one background task, in batches: UNSUBSCRIBE for the channels left, then one SUBSCRIBE for all
    the channels joined meanwhile.
    """

    def __init__(
        self, redis: Redis, backlog: int = SUBSCRIBER_BACKLOG, pipeline: RedisAutoPipeline | None = None
    ) -> None:
        """``pipeline``: the process's shared auto-pipeline, closed by its owner; without one the fanout
        makes and closes its own."""
        self._redis = redis
        self._backlog = backlog
        self._local: dict[str, set[LocalSubscriber[Any]]] = {}
        # Channels whose messages are handed over as the bytes published, not decoded as job events.
        self._raw: set[str] = set()
        self._in_redis: set[str] = set()
        self._idle: set[str] = set()
        # Channels waiting for the next SUBSCRIBE, and whoever waits for it.
        self._joining: dict[str, asyncio.Future[None]] = {}
        self._changed = asyncio.Event()
        self._starting = asyncio.Lock()
        self._pubsub: PubSub | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._owns_pipeline = pipeline is None
        self._publishing = RedisAutoPipeline(redis) if pipeline is None else pipeline
        # Cleared from a failed read until redis-py has reconnected (and subscribed again).
        self._connected = asyncio.Event()
        self._connected.set()

    @property
    def active_channels(self) -> int:
        return len(self._local)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def reconnected(self, within_seconds: float) -> bool:
        """Whether Redis is (or is back) within ``within_seconds``: a dropped connection that redis-py
        restores at once is not an outage."""
        try:
            async with asyncio.timeout(within_seconds):
                await self._connected.wait()
        except TimeoutError:
            return False
        return True

    async def publish(self, messages: list[tuple[str, bytes]]) -> None:
        """Publish each (channel, payload), in order, after every message published before; raise
        ``TimeoutError`` when Redis has not taken them within PUBLISH_TIMEOUT_SECONDS (see
        ``RedisAutoPipeline``: concurrent calls share a round trip; a publish that timed out before
        its round trip is dropped)."""
        if not messages:
            return
        async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
            await self._publishing.execute([("PUBLISH", channel, payload) for channel, payload in messages])

    async def join(self, channel: str) -> LocalSubscriber[JobEvent]:
        """A subscriber of ``channel``, once Redis has been asked to send it this channel's messages.

        Channels wanted by streams opening at the same time go to Redis in one SUBSCRIBE: one at a
        time, thousands of streams opening together queued behind each other for seconds.
        """
        subscriber: LocalSubscriber[JobEvent] = LocalSubscriber(self._backlog)
        await self._join(channel, subscriber)
        return subscriber

    async def join_raw(self, channel: str) -> LocalSubscriber[bytes]:
        """``join`` for a channel whose messages are not job events: each arrives as the bytes published."""
        self._raw.add(channel)
        subscriber: LocalSubscriber[bytes] = LocalSubscriber(self._backlog)
        await self._join(channel, subscriber)
        return subscriber

    async def _join(self, channel: str, subscriber: LocalSubscriber[Any]) -> None:
        self._local.setdefault(channel, set()).add(subscriber)
        try:
            if channel not in self._in_redis:
                await self._started()
                joined = self._joining.get(channel)
                if joined is None:
                    joined = self._joining[channel] = asyncio.get_running_loop().create_future()
                    self._changed.set()
                # Shielded: one stream giving up must not fail the others waiting for the same batch.
                await asyncio.shield(joined)
        except BaseException:
            self.leave(subscriber, channel)
            raise

    def leave(self, subscriber: LocalSubscriber[Any], channel: str) -> None:
        members = self._local.get(channel)
        if members is None or subscriber not in members:
            return
        members.remove(subscriber)
        if not members:
            del self._local[channel]
            self._idle.add(channel)
            self._changed.set()

    async def close(self) -> None:
        if self._owns_pipeline:
            await self._publishing.close()
        for task in self._tasks:
            await _stop(task)
        self._tasks = []
        for joined in self._joining.values():
            joined.cancel()
        self._joining.clear()
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py
            self._pubsub = None
        self._in_redis.clear()

    async def _started(self) -> PubSub:
        """The pub/sub connection and its tasks, started by the first subscription."""
        if self._pubsub is not None:
            return self._pubsub
        async with self._starting:
            if self._pubsub is None:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                await pubsub.connect()  # type: ignore[no-untyped-call]  # unannotated in redis-py
                self._pubsub = pubsub
                self._tasks = [
                    asyncio.create_task(self._read(pubsub), name="job-events-reader"),
                    asyncio.create_task(self._subscriptions(pubsub), name="job-events-subscriptions"),
                ]
            return self._pubsub

    async def _read(self, pubsub: PubSub) -> None:
        """Decode every message once and hand the event to the channel's local subscribers; carry on
        once Redis is back.

        redis-py reconnects and subscribes again to the channels it was subscribed to. Events published
        meanwhile are lost to live delivery; the SSE streams read them from Postgres.
        """
        while True:
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            except Exception:
                if self.connected:
                    logger.warning("reading job events from Redis failed; retrying", exc_info=True)
                self._connected.clear()
                await asyncio.sleep(READ_RETRY_SECONDS)
                continue
            self._connected.set()  # any answer, a re-subscription's confirmation included
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            name = channel.decode() if isinstance(channel, bytes) else str(channel)
            # Unsubscribing is asynchronous in Redis: what still arrives for a channel left finds nobody.
            subscribers = self._local.get(name)
            if not subscribers:
                continue
            if name in self._raw:
                for subscriber in subscribers:
                    subscriber.put(message["data"])
                continue
            event = decode_event(message["data"])
            if event is None:
                logger.warning("dropped an undecodable message on %s", name)
                continue
            for subscriber in subscribers:
                subscriber.put(event)

    async def _subscriptions(self, pubsub: PubSub) -> None:
        """Tell Redis, in batches and in the order the registry saw them, which channels this process
        left and which it joined. One task sends both, so a job re-joined right after its last
        subscriber left ends up subscribed."""
        while True:
            await self._changed.wait()
            self._changed.clear()
            await self._unsubscribe_idle(pubsub)
            await self._subscribe_joining(pubsub)
            if self._idle:
                await asyncio.sleep(UNSUBSCRIBE_RETRY_SECONDS)
                self._changed.set()

    async def _unsubscribe_idle(self, pubsub: PubSub) -> None:
        idle = {channel for channel in self._idle if channel not in self._local}
        self._idle.clear()
        idle &= self._in_redis
        if not idle:
            return
        self._in_redis -= idle
        try:
            async with asyncio.timeout(JOIN_TIMEOUT_SECONDS):
                await pubsub.unsubscribe(*idle)
        except Exception:
            logger.warning("unsubscribing %d idle channels failed; retrying", len(idle), exc_info=True)
            # Still subscribed as far as we know: the retry only unsubscribes channels in ``_in_redis``.
            self._in_redis |= idle
            self._idle |= idle

    async def _subscribe_joining(self, pubsub: PubSub) -> None:
        joining, self._joining = self._joining, {}
        # A channel whose streams all left while waiting is not worth subscribing.
        wanted = [channel for channel in joining if channel in self._local]
        try:
            if wanted:
                async with asyncio.timeout(JOIN_TIMEOUT_SECONDS):
                    await pubsub.subscribe(*wanted)
                self._in_redis.update(wanted)
        except Exception as error:
            for joined in joining.values():
                if not joined.done():
                    joined.set_exception(error)
                    joined.exception()  # retrieved, so a batch whose streams all left logs nothing
            return
        for joined in joining.values():
            if not joined.done():
                joined.set_result(None)


async def _stop(task: asyncio.Task[None]) -> None:
    await cancel_until_done(task, STOP_POLL_SECONDS)
    if not task.cancelled() and task.exception() is not None:
        logger.warning("a job events task had failed", exc_info=task.exception())


class _WireEvent(msgspec.Struct, frozen=True):
    job_id: UUID
    sequence: int
    type: str
    data: dict[str, Any]
    created_at: datetime
    user_id: UUID | None = None
    feed_sequence: int | None = None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_WireEvent)


def encode_event(event: JobEvent) -> bytes:
    return _encoder.encode(
        _WireEvent(
            event.job_id,
            event.sequence,
            event.type.value,
            event.data,
            event.created_at,
            event.user_id,
            event.feed_sequence,
        )
    )


def decode_event(payload: bytes) -> JobEvent | None:
    try:
        wire = _decoder.decode(payload)
        return JobEvent(
            wire.job_id,
            wire.sequence,
            EventType(wire.type),
            wire.data,
            wire.created_at,
            wire.user_id,
            wire.feed_sequence,
        )
    except (msgspec.DecodeError, ValueError):
        return None


class RedisJobEventPublisher:
    def __init__(self, fanout: RedisEventFanout) -> None:
        self._fanout = fanout

    async def publish(self, events: list[JobEvent]) -> None:
        """Each event, encoded once, on its job's channel and then on its owner's (once the event has
        its place in their feed): all of them in one Redis round trip, in order."""
        if not events:
            return
        messages: list[tuple[str, bytes]] = []
        for event in events:
            payload = encode_event(event)
            messages.append((job_channel(event.job_id), payload))
            if event.user_id is not None and event.feed_sequence is not None:
                messages.append((user_channel(event.user_id), payload))
        # One span per round trip, named after its newest event (most publishes carry exactly one).
        attributes = {
            "job.id": str(events[-1].job_id),
            "event.type": events[-1].type.value,
            "events.count": len(events),
        }
        with tracing.span("events.publish", kind="producer", attributes=attributes):
            await self._fanout.publish(messages)


class RedisJobEventSubscription:
    def __init__(self, fanout: RedisEventFanout, channel: str, subscriber: LocalSubscriber[JobEvent]) -> None:
        self._fanout = fanout
        self._channel = channel
        self._subscriber = subscriber

    async def next(self, timeout_seconds: float) -> JobEvent | None:
        if not self._fanout.connected and not await self._fanout.reconnected(RECONNECT_GRACE_SECONDS):
            raise LiveEventsUnavailableError("the job events channel (Redis) is down")
        return await self._subscriber.receive(timeout_seconds)

    async def close(self) -> None:
        self._fanout.leave(self._subscriber, self._channel)


class RedisJobEventFeed:
    def __init__(self, fanout: RedisEventFanout) -> None:
        self._fanout = fanout

    async def subscribe(self, job_id: UUID) -> RedisJobEventSubscription:
        return await self._join(job_channel(job_id))

    async def subscribe_user(self, user_id: UUID) -> RedisJobEventSubscription:
        return await self._join(user_channel(user_id))

    async def _join(self, channel: str) -> RedisJobEventSubscription:
        if not self._fanout.connected:
            raise LiveEventsUnavailableError("the job events channel (Redis) is down")
        try:
            async with asyncio.timeout(JOIN_WAIT_SECONDS):
                subscriber = await self._fanout.join(channel)
        except (RedisError, OSError, TimeoutError) as error:
            raise LiveEventsUnavailableError(f"subscribing to {channel} failed: {error!r}") from error
        return RedisJobEventSubscription(self._fanout, channel, subscriber)
