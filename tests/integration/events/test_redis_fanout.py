"""Job events over our Redis pub/sub fan-out against real Redis; each fan-out stands for one process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from redis.asyncio import Redis

from adapters.events.redis_fanout import (
    JOIN_TIMEOUT_SECONDS,
    LocalSubscriber,
    RedisEventFanout,
    RedisJobEventFeed,
    RedisJobEventPublisher,
    decode_event,
    encode_event,
    job_channel,
)
from domain.analysis.jobs import EventType, JobEvent

WAIT = 5.0
QUIET = 0.3

FanoutFactory = Callable[..., Awaitable[RedisEventFanout]]


@pytest.fixture
async def start_fanout(redis_url: str) -> AsyncIterator[FanoutFactory]:
    """Starts fan-outs, each on its own Redis client as a separate process would; closes them after."""
    started: list[tuple[RedisEventFanout, Redis]] = []

    async def start(client_name: str | None = None) -> RedisEventFanout:
        client = Redis.from_url(
            redis_url, socket_connect_timeout=2, socket_timeout=5, client_name=client_name
        )
        fanout = RedisEventFanout(client)
        started.append((fanout, client))
        return fanout

    yield start
    for fanout, client in reversed(started):
        await fanout.close()
        await client.aclose()


def _event(job_id: UUID, sequence: int = 1, **data: object) -> JobEvent:
    return JobEvent(
        job_id, sequence, EventType.PROGRESS, {"progress": 40, "stage": "features", **data}, datetime.now(UTC)
    )


async def _pubsub_connections(redis: Redis, client_name: str) -> int:
    """Pub/sub connections of the fan-out whose client is named so (other tests share this Redis)."""
    clients = await redis.client_list(_type="pubsub")
    return sum(1 for client in clients if client.get("name") == client_name)


async def _redis_subscribers(redis: Redis, job_id: UUID) -> int:
    [(_, count)] = await redis.pubsub_numsub(job_channel(job_id))
    return int(count)


async def _until_redis_subscribers(redis: Redis, job_id: UUID, expected: int) -> int:
    """The channel's subscriber count in Redis once it is ``expected``, or when WAIT has passed."""
    deadline = asyncio.get_running_loop().time() + WAIT
    count = await _redis_subscribers(redis, job_id)
    while count != expected and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)
        count = await _redis_subscribers(redis, job_id)
    return count


def test_an_encoded_event_decodes_to_an_equal_event() -> None:
    event = _event(uuid4(), 7, words=[{"text": "hello", "score": 0.5}])

    assert decode_event(encode_event(event)) == event


def test_an_undecodable_payload_decodes_to_none() -> None:
    assert decode_event(b'{"not": "an event"}') is None


async def test_an_event_published_in_one_process_reaches_a_subscriber_in_another(
    start_fanout: FanoutFactory,
) -> None:
    publishing, subscribing = await start_fanout(), await start_fanout()
    event = _event(uuid4())
    subscription = await RedisJobEventFeed(subscribing).subscribe(event.job_id)

    await RedisJobEventPublisher(publishing).publish([event])

    assert await subscription.next(WAIT) == event
    await subscription.close()


async def test_a_subscriber_receives_only_its_own_jobs_events(start_fanout: FanoutFactory) -> None:
    publishing, subscribing = await start_fanout(), await start_fanout()
    mine, other = _event(uuid4()), _event(uuid4())
    subscription = await RedisJobEventFeed(subscribing).subscribe(mine.job_id)

    await RedisJobEventPublisher(publishing).publish([other, mine])

    assert [await subscription.next(WAIT), await subscription.next(QUIET)] == [mine, None]
    await subscription.close()


async def test_every_subscriber_of_a_job_receives_its_event(start_fanout: FanoutFactory) -> None:
    publishing, subscribing = await start_fanout(), await start_fanout()
    event = _event(uuid4())
    feed = RedisJobEventFeed(subscribing)
    first, second = await feed.subscribe(event.job_id), await feed.subscribe(event.job_id)

    await RedisJobEventPublisher(publishing).publish([event])

    assert [await first.next(WAIT), await second.next(WAIT)] == [event, event]
    await first.close()
    await second.close()


async def test_next_returns_none_when_nothing_arrives_within_the_timeout(start_fanout: FanoutFactory) -> None:
    subscription = await RedisJobEventFeed(await start_fanout()).subscribe(uuid4())

    assert await subscription.next(QUIET) is None
    await subscription.close()


async def test_an_undecodable_message_is_skipped(start_fanout: FanoutFactory, redis: Redis) -> None:
    event = _event(uuid4())
    subscription = await RedisJobEventFeed(await start_fanout()).subscribe(event.job_id)

    await redis.publish(job_channel(event.job_id), b"garbage")
    await RedisJobEventPublisher(await start_fanout()).publish([event])

    assert await subscription.next(WAIT) == event
    await subscription.close()


async def _warmed_feed(start_fanout: FanoutFactory) -> RedisJobEventFeed:
    """A feed whose process-wide reader is running: the first subscription starts it."""
    feed = RedisJobEventFeed(await start_fanout())
    await (await feed.subscribe(uuid4())).close()
    await asyncio.sleep(QUIET)
    return feed


async def test_a_process_reads_redis_with_one_connection_however_many_jobs_it_follows(
    start_fanout: FanoutFactory, redis: Redis
) -> None:
    name = f"fanout-{uuid4().hex}"
    feed = RedisJobEventFeed(await start_fanout(name))

    subscriptions = [await feed.subscribe(uuid4()) for _ in range(20)]

    assert await _pubsub_connections(redis, name) == 1
    for subscription in subscriptions:
        await subscription.close()


async def test_an_open_subscription_runs_no_task_of_its_own(start_fanout: FanoutFactory) -> None:
    feed = await _warmed_feed(start_fanout)
    before = asyncio.all_tasks()

    subscriptions = [await feed.subscribe(uuid4()) for _ in range(50)]

    assert asyncio.all_tasks() == before
    for subscription in subscriptions:
        await subscription.close()


async def test_closing_subscriptions_leaves_no_task_running(start_fanout: FanoutFactory) -> None:
    feed = await _warmed_feed(start_fanout)
    before = asyncio.all_tasks()
    subscriptions = [await feed.subscribe(uuid4()) for _ in range(50)]

    for subscription in subscriptions:
        await subscription.close()
    await asyncio.sleep(QUIET)

    assert asyncio.all_tasks() == before


async def test_a_stream_whose_join_waits_on_a_busy_process_still_goes_live(
    start_fanout: FanoutFactory,
) -> None:
    """Redis answering at once but the process's event loop late (thousands of streams opening) is not
    an outage: the stream joins live rather than falling back to polling Postgres."""
    feed = await _warmed_feed(start_fanout)
    event = _event(uuid4())
    joining = asyncio.ensure_future(feed.subscribe(event.job_id))
    await asyncio.sleep(0)  # the join waits for the next SUBSCRIBE batch

    time.sleep(JOIN_TIMEOUT_SECONDS + 0.5)  # noqa: ASYNC251  # the loop busy with other work meanwhile

    subscription = await joining
    await RedisJobEventPublisher(await start_fanout()).publish([event])
    assert await subscription.next(WAIT) == event
    await subscription.close()


async def test_publishing_many_events_is_one_round_trip_and_keeps_their_order(
    start_fanout: FanoutFactory, redis_url: str
) -> None:
    job_id, user_id = uuid4(), uuid4()
    events = [
        replace(_event(job_id, sequence), user_id=user_id, feed_sequence=sequence) for sequence in (1, 2, 3)
    ]
    feed = RedisJobEventFeed(await start_fanout())
    on_job, on_user = await feed.subscribe(job_id), await feed.subscribe_user(user_id)
    sent: list[int] = []

    class Counted(Redis):
        """Counts the pipelines executed and how many commands each carried."""

        def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
            pipe = super().pipeline(transaction, shard_hint)
            execute = pipe.execute

            async def counted(raise_on_error: bool = True) -> Any:
                sent.append(len(pipe.command_stack))
                return await execute(raise_on_error)

            pipe.execute = counted  # type: ignore[method-assign]
            return pipe

    client = Counted.from_url(redis_url)
    publishing = RedisEventFanout(client)
    try:
        await RedisJobEventPublisher(publishing).publish(events)
    finally:
        await publishing.close()
        await client.aclose()

    assert sent == [6]  # three events, each on its job's and its owner's channel: one round trip
    assert [await on_job.next(WAIT) for _ in events] == events
    assert [await on_user.next(WAIT) for _ in events] == events
    await on_job.close()
    await on_user.close()


async def test_closing_the_last_subscription_of_a_job_unsubscribes_redis(
    start_fanout: FanoutFactory, redis: Redis
) -> None:
    fanout = await start_fanout()
    job_id = uuid4()
    subscription = await RedisJobEventFeed(fanout).subscribe(job_id)
    await _until_redis_subscribers(redis, job_id, 1)

    await subscription.close()

    assert await _until_redis_subscribers(redis, job_id, 0) == 0
    assert fanout.active_channels == 0


async def test_an_unsubscribe_redis_refused_is_tried_again(
    start_fanout: FanoutFactory, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    fanout = await start_fanout()
    job_id = uuid4()
    subscription = await RedisJobEventFeed(fanout).subscribe(job_id)
    await _until_redis_subscribers(redis, job_id, 1)
    pubsub = await fanout._started()
    unsubscribe, refused = pubsub.unsubscribe, []

    async def refused_once(*channels: str) -> None:
        if not refused:
            refused.append(channels)
            raise ConnectionError("Redis refused the UNSUBSCRIBE")
        await unsubscribe(*channels)

    monkeypatch.setattr(pubsub, "unsubscribe", refused_once)

    await subscription.close()

    assert await _until_redis_subscribers(redis, job_id, 0) == 0  # tried again a second later
    assert refused == [(job_channel(job_id),)]


async def test_a_subscription_closed_by_a_cancelled_task_is_released(
    start_fanout: FanoutFactory, redis: Redis
) -> None:
    fanout = await start_fanout()
    job_id = uuid4()
    feed = RedisJobEventFeed(fanout)
    subscribed = asyncio.Event()

    async def follow() -> None:
        subscription = await feed.subscribe(job_id)
        try:
            subscribed.set()
            await subscription.next(60)
        finally:
            await subscription.close()

    task = asyncio.create_task(follow())
    await asyncio.wait_for(subscribed.wait(), WAIT)
    await _until_redis_subscribers(redis, job_id, 1)
    task.cancel()

    assert await _until_redis_subscribers(redis, job_id, 0) == 0
    assert fanout.active_channels == 0


async def test_a_job_resubscribed_right_after_its_last_subscriber_left_still_receives(
    start_fanout: FanoutFactory,
) -> None:
    publishing, subscribing = await start_fanout(), await start_fanout()
    event = _event(uuid4())
    feed = RedisJobEventFeed(subscribing)
    await (await feed.subscribe(event.job_id)).close()
    subscription = await feed.subscribe(event.job_id)
    await asyncio.sleep(QUIET)  # the background unsubscribe of the first subscriber has run

    await RedisJobEventPublisher(publishing).publish([event])

    assert await subscription.next(WAIT) == event
    await subscription.close()


async def test_a_subscriber_receives_again_after_its_redis_connection_was_dropped(
    start_fanout: FanoutFactory, redis: Redis
) -> None:
    name = f"fanout-{uuid4().hex}"
    publishing, subscribing = await start_fanout(), await start_fanout(name)
    job_id = uuid4()
    subscription = await RedisJobEventFeed(subscribing).subscribe(job_id)
    await _until_redis_subscribers(redis, job_id, 1)

    # Only this fan-out's connection: other tests and processes share this Redis.
    killed = [
        await redis.client_kill_filter(_id=client["id"])
        for client in await redis.client_list(_type="pubsub")
        if client.get("name") == name
    ]
    assert killed == [1]
    await _until_redis_subscribers(redis, job_id, 1)
    event = _event(job_id)
    await RedisJobEventPublisher(publishing).publish([event])

    assert await subscription.next(WAIT) == event
    await subscription.close()


async def test_a_process_that_only_publishes_opens_no_pubsub_connection(
    start_fanout: FanoutFactory, redis: Redis
) -> None:
    name = f"fanout-{uuid4().hex}"

    await RedisJobEventPublisher(await start_fanout(name)).publish([_event(uuid4())])

    assert await _pubsub_connections(redis, name) == 0


async def test_a_full_backlog_drops_the_oldest_message_first() -> None:
    subscriber: LocalSubscriber[bytes] = LocalSubscriber(backlog=2)

    for payload in (b"1", b"2", b"3"):
        subscriber.put(payload)

    assert [await subscriber.receive(0), await subscriber.receive(0), await subscriber.receive(0)] == [
        b"2",
        b"3",
        None,
    ]
