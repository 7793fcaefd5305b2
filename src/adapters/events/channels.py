"""Live job events over Litestar Channels on Redis pub/sub: any process publishes, any API subscribes.

One channel per job (``job:<id>``). A subscriber costs a queue and a set entry, no task: thousands of
SSE clients share the plugin's one Redis connection and its one reader task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from datetime import datetime
from types import TracebackType
from typing import Any
from uuid import UUID

import msgspec
from litestar.channels import ChannelsPlugin, Subscriber
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from redis.asyncio import Redis

from domain.analysis.jobs import EventType, JobEvent

CHANNEL_PREFIX = "job:"
UNSUBSCRIBE_RETRY_SECONDS = 1.0
READ_RETRY_SECONDS = 0.5
STOP_POLL_SECONDS = 0.1
logger = logging.getLogger(__name__)


def job_channel(job_id: UUID) -> str:
    return f"{CHANNEL_PREFIX}{job_id}"


def build_channels(redis: Redis) -> JobChannelsPlugin:
    return JobChannelsPlugin(
        backend=JobPubSubBackend(redis=redis, key_prefix="VOICE_PRACTICE_CHANNELS"),
        arbitrary_channels_allowed=True,
        subscriber_class=JobSubscriber,
        # A slow SSE client must not grow memory without bound; it catches up from Postgres.
        subscriber_max_backlog=1000,
        subscriber_backlog_strategy="dropleft",
    )


class JobPubSubBackend(RedisChannelsPubSubBackend):
    """Checks a message's channel in constant time; the stock backend copies the set of subscribed
    channels for every message, which with one channel per SSE client grows with the square of them."""

    async def stream_events(self) -> AsyncGenerator[tuple[str, Any], None]:
        pubsub = self._pub_sub
        while True:
            await self._has_subscribed.wait()
            message = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=self._stream_sleep_no_subscriptions
            )
            if message is None:
                continue
            channel = message["channel"]
            # Unsubscribing is asynchronous in Redis: drop what still arrives for a channel being left.
            if channel in pubsub.channels and channel not in pubsub.pending_unsubscribe_channels:
                yield channel.decode(), message["data"]


class JobSubscriber(Subscriber):
    """Read with a timeout straight from the subscriber's queue, so a subscriber needs no task."""

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


class JobChannelsPlugin(ChannelsPlugin):
    """ChannelsPlugin for many short-lived channels (one per job).

    The stock plugin keeps every channel ever used in memory and unsubscribes inside the caller's task;
    here a channel is forgotten with its last subscriber, and leaving is synchronous -- it completes in a
    cancelled task (a disconnected client) -- while Redis is told in the background, in batches.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_redis: set[str] = set()
        self._idle_channels: set[str] = set()
        self._channels_went_idle = asyncio.Event()
        # Orders SUBSCRIBE and UNSUBSCRIBE of one channel as the registry saw them.
        self._redis_subscriptions = asyncio.Lock()
        self._unsubscriber: asyncio.Task[None] | None = None

    @property
    def active_channels(self) -> int:
        return len(self._channels)

    async def join(self, channel: str) -> JobSubscriber:
        subscriber = JobSubscriber(self, self._max_backlog, self._backlog_strategy)
        self._channels.setdefault(channel, set()).add(subscriber)
        try:
            if channel not in self._in_redis:
                async with self._redis_subscriptions:
                    if channel not in self._in_redis:
                        await self._backend.subscribe([channel])
                        self._in_redis.add(channel)
        except BaseException:
            self.leave(subscriber, channel)
            raise
        return subscriber

    def leave(self, subscriber: Subscriber, channel: str) -> None:
        members = self._channels.get(channel)
        if members is None or subscriber not in members:
            return
        members.remove(subscriber)
        if not members:
            del self._channels[channel]
            self._idle_channels.add(channel)
            self._channels_went_idle.set()

    async def _unsubscribe_idle_channels(self) -> None:
        while True:
            await self._channels_went_idle.wait()
            self._channels_went_idle.clear()
            async with self._redis_subscriptions:
                idle = {channel for channel in self._idle_channels if channel not in self._channels}
                self._idle_channels.clear()
                if not idle:
                    continue
                self._in_redis -= idle
                try:
                    await self._backend.unsubscribe(idle)
                except Exception:
                    logger.warning(
                        "unsubscribing %d idle channels failed; retrying", len(idle), exc_info=True
                    )
                    self._idle_channels |= idle
            if self._idle_channels:
                await asyncio.sleep(UNSUBSCRIBE_RETRY_SECONDS)
                self._channels_went_idle.set()

    async def _sub_worker(self) -> None:
        """The stock reader ends at the first Redis error; this one carries on once Redis is back.

        Events published meanwhile are lost to live delivery; the SSE streams read them from Postgres.
        """
        while True:
            try:
                async for channel, payload in self._backend.stream_events():
                    for subscriber in self._channels.get(channel, ()):
                        subscriber.put_nowait(payload)
            except Exception:
                logger.warning("reading job events from Redis failed; retrying", exc_info=True)
                await asyncio.sleep(READ_RETRY_SECONDS)

    async def __aenter__(self) -> JobChannelsPlugin:
        await super().__aenter__()
        self._unsubscriber = asyncio.create_task(self._unsubscribe_idle_channels())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        for task in (self._unsubscriber, self._sub_task):
            if task is not None:
                await _stop(task)
        self._unsubscriber = self._sub_task = None
        await super().__aexit__(exc_type, exc_val, exc_tb)


async def _stop(task: asyncio.Task[None]) -> None:
    """Cancel until the task ends: on Python 3.11 a cancellation that lands in redis-py's
    ``asyncio.wait_for`` just as the wrapped call completes is swallowed."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=STOP_POLL_SECONDS)
    if not task.cancelled() and task.exception() is not None:
        logger.warning("a job channels task had failed", exc_info=task.exception())


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


class ChannelsJobEventPublisher:
    def __init__(self, channels: ChannelsPlugin) -> None:
        self._channels = channels

    async def publish(self, events: list[JobEvent]) -> None:
        for event in events:
            await self._channels.wait_published(encode_event(event), job_channel(event.job_id))


class ChannelsSubscription:
    def __init__(self, channels: JobChannelsPlugin, channel: str, subscriber: JobSubscriber) -> None:
        self._channels = channels
        self._channel = channel
        self._subscriber = subscriber

    async def next(self, timeout_seconds: float) -> JobEvent | None:
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
        self._channels.leave(self._subscriber, self._channel)


class ChannelsJobEventFeed:
    def __init__(self, channels: JobChannelsPlugin) -> None:
        self._channels = channels

    async def subscribe(self, job_id: UUID) -> ChannelsSubscription:
        channel = job_channel(job_id)
        return ChannelsSubscription(self._channels, channel, await self._channels.join(channel))
