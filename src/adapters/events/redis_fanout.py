"""Live job events over Redis pub/sub, fanned out to this process's SSE streams with redis-py's public API.

One channel per job (``job:<id>``). A process holds one pub/sub connection and one reader task, opened
at its first subscription; the reader hands each message to the local subscribers of its channel. A
subscriber costs a bounded queue and a set entry, no task. History and catch-up stay in Postgres.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from application.ports.analysis import LiveEventsUnavailableError
from domain.analysis.jobs import EventType, JobEvent
from shared_kernel import tracing

CHANNEL_PREFIX = "job:"
# A slow SSE client must not grow memory without bound: its oldest live events are dropped, and it
# catches up from Postgres.
SUBSCRIBER_BACKLOG = 1000
# Publishing happens on request paths (an upload, a webhook) after the commit, and joining when a stream
# opens: a stalled Redis must not hold either. Past these bounds the publish is dropped (streams catch up
# from Postgres) and the stream follows Postgres instead.
PUBLISH_TIMEOUT_SECONDS = 0.3
JOIN_TIMEOUT_SECONDS = 1.0
RECONNECT_GRACE_SECONDS = 1.0
UNSUBSCRIBE_RETRY_SECONDS = 1.0
READ_RETRY_SECONDS = 0.5
STOP_POLL_SECONDS = 0.1
logger = logging.getLogger(__name__)


def job_channel(job_id: UUID) -> str:
    return f"{CHANNEL_PREFIX}{job_id}"


class LocalSubscriber:
    """One SSE stream's inbox: a bounded queue that drops its oldest message when full."""

    def __init__(self, backlog: int = SUBSCRIBER_BACKLOG) -> None:
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=backlog)

    def put(self, payload: bytes) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(payload)

    async def receive(self, timeout_seconds: float) -> bytes | None:
        if timeout_seconds <= 0:
            try:
                return self._queue.get_nowait()
            except asyncio.QueueEmpty:
                return None
        try:
            async with asyncio.timeout(timeout_seconds):
                return await self._queue.get()
        except TimeoutError:
            return None


class RedisEventFanout:
    """This process's share of Redis pub/sub: channels subscribed while a local subscriber wants them.

    Leaving is synchronous, so it completes in a cancelled task (a disconnected client); Redis is told
    in the background, in batches. A lock orders SUBSCRIBE and UNSUBSCRIBE of one channel as the
    registry saw them, so a job re-joined right after its last subscriber left stays subscribed.
    """

    def __init__(self, redis: Redis, backlog: int = SUBSCRIBER_BACKLOG) -> None:
        self._redis = redis
        self._backlog = backlog
        self._local: dict[str, set[LocalSubscriber]] = {}
        self._in_redis: set[str] = set()
        self._idle: set[str] = set()
        self._went_idle = asyncio.Event()
        self._redis_subscriptions = asyncio.Lock()
        self._pubsub: PubSub | None = None
        self._tasks: list[asyncio.Task[None]] = []
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

    async def publish(self, channel: str, payload: bytes) -> None:
        """Raise ``TimeoutError`` when Redis does not take the message within PUBLISH_TIMEOUT_SECONDS."""
        async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
            await self._redis.publish(channel, payload)

    async def join(self, channel: str) -> LocalSubscriber:
        subscriber = LocalSubscriber(self._backlog)
        self._local.setdefault(channel, set()).add(subscriber)
        try:
            if channel not in self._in_redis:
                async with self._redis_subscriptions:
                    if channel not in self._in_redis:
                        pubsub = await self._started()
                        await pubsub.subscribe(channel)
                        self._in_redis.add(channel)
        except BaseException:
            self.leave(subscriber, channel)
            raise
        return subscriber

    def leave(self, subscriber: LocalSubscriber, channel: str) -> None:
        members = self._local.get(channel)
        if members is None or subscriber not in members:
            return
        members.remove(subscriber)
        if not members:
            del self._local[channel]
            self._idle.add(channel)
            self._went_idle.set()

    async def close(self) -> None:
        for task in self._tasks:
            await _stop(task)
        self._tasks = []
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py
            self._pubsub = None
        self._in_redis.clear()

    async def _started(self) -> PubSub:
        """The pub/sub connection and its tasks, started by the first subscription (under the lock)."""
        if self._pubsub is None:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            await pubsub.connect()  # type: ignore[no-untyped-call]  # unannotated in redis-py
            self._pubsub = pubsub
            self._tasks = [
                asyncio.create_task(self._read(pubsub), name="job-events-reader"),
                asyncio.create_task(self._unsubscribe_idle(pubsub), name="job-events-unsubscriber"),
            ]
        return self._pubsub

    async def _read(self, pubsub: PubSub) -> None:
        """Dispatch every message to the channel's local subscribers; carry on once Redis is back.

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
            for subscriber in self._local.get(name, ()):
                subscriber.put(message["data"])

    async def _unsubscribe_idle(self, pubsub: PubSub) -> None:
        while True:
            await self._went_idle.wait()
            self._went_idle.clear()
            async with self._redis_subscriptions:
                idle = {channel for channel in self._idle if channel not in self._local}
                self._idle.clear()
                if not idle:
                    continue
                self._in_redis -= idle
                try:
                    await pubsub.unsubscribe(*idle)
                except Exception:
                    logger.warning(
                        "unsubscribing %d idle channels failed; retrying", len(idle), exc_info=True
                    )
                    self._idle |= idle
            if self._idle:
                await asyncio.sleep(UNSUBSCRIBE_RETRY_SECONDS)
                self._went_idle.set()


async def _stop(task: asyncio.Task[None]) -> None:
    """Cancel until the task ends: on Python 3.11 a cancellation that lands in redis-py's
    ``asyncio.wait_for`` just as the wrapped call completes is swallowed."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=STOP_POLL_SECONDS)
    if not task.cancelled() and task.exception() is not None:
        logger.warning("a job events task had failed", exc_info=task.exception())


class _WireEvent(msgspec.Struct, frozen=True):
    job_id: UUID
    sequence: int
    type: str
    data: dict[str, Any]
    created_at: datetime


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_WireEvent)


def encode_event(event: JobEvent) -> bytes:
    return _encoder.encode(
        _WireEvent(event.job_id, event.sequence, event.type.value, event.data, event.created_at)
    )


def decode_event(payload: bytes) -> JobEvent | None:
    try:
        wire = _decoder.decode(payload)
        return JobEvent(wire.job_id, wire.sequence, EventType(wire.type), wire.data, wire.created_at)
    except (msgspec.DecodeError, ValueError):
        return None


class RedisJobEventPublisher:
    def __init__(self, fanout: RedisEventFanout) -> None:
        self._fanout = fanout

    async def publish(self, events: list[JobEvent]) -> None:
        for event in events:
            attributes = {"job.id": str(event.job_id), "event.type": event.type.value}
            with tracing.span("events.publish", kind="producer", attributes=attributes):
                await self._fanout.publish(job_channel(event.job_id), encode_event(event))


class RedisJobEventSubscription:
    def __init__(self, fanout: RedisEventFanout, channel: str, subscriber: LocalSubscriber) -> None:
        self._fanout = fanout
        self._channel = channel
        self._subscriber = subscriber

    async def next(self, timeout_seconds: float) -> JobEvent | None:
        if not await self._fanout.reconnected(RECONNECT_GRACE_SECONDS):
            raise LiveEventsUnavailableError("the job events channel (Redis) is down")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds
        while True:
            payload = await self._subscriber.receive(deadline - loop.time() if timeout_seconds > 0 else 0)
            if payload is None:
                return None
            event = decode_event(payload)
            if event is not None:
                return event
            logger.warning("dropped an undecodable message on %s", self._channel)

    async def close(self) -> None:
        self._fanout.leave(self._subscriber, self._channel)


class RedisJobEventFeed:
    def __init__(self, fanout: RedisEventFanout) -> None:
        self._fanout = fanout

    async def subscribe(self, job_id: UUID) -> RedisJobEventSubscription:
        channel = job_channel(job_id)
        if not self._fanout.connected:
            raise LiveEventsUnavailableError("the job events channel (Redis) is down")
        try:
            async with asyncio.timeout(JOIN_TIMEOUT_SECONDS):
                subscriber = await self._fanout.join(channel)
        except (RedisError, OSError, TimeoutError) as error:
            raise LiveEventsUnavailableError(f"subscribing to {channel} failed: {error!r}") from error
        return RedisJobEventSubscription(self._fanout, channel, subscriber)
