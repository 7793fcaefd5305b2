"""The worker's wake-up subscription against real Redis: its own connection, counted pushes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from redis.asyncio import Redis

from adapters.events.redis_fanout import RedisEventFanout
from adapters.queue.relay_wakeups import (
    DirectWakeupSubscription,
    RedisRelayWakeups,
    RedisReplyError,
    RelayWakeupSubscription,
    WakeupConnectionLostError,
    _parse,
)
from tests.support.tcp_proxy import tcp_proxy

WAIT = 5.0


@pytest.fixture
async def fanout(redis: Redis) -> AsyncIterator[RedisEventFanout]:
    fanout = RedisEventFanout(redis)
    yield fanout
    await fanout.close()


def wakeups(fanout: RedisEventFanout, redis: Redis | None) -> RedisRelayWakeups:
    return RedisRelayWakeups(fanout, f"test-{uuid4().hex}", redis)


async def wait_for(subscription: DirectWakeupSubscription | RelayWakeupSubscription, count: int) -> int:
    woken = 0
    async with asyncio.timeout(WAIT):
        while woken < count:
            woken += await subscription.wait(WAIT)
    return woken


async def test_a_worker_connecting_over_tcp_counts_wake_ups_on_its_own_connection(
    fanout: RedisEventFanout, redis: Redis
) -> None:
    relay_wakeups = wakeups(fanout, redis)
    subscription = await relay_wakeups.subscribe()
    try:
        assert isinstance(subscription, DirectWakeupSubscription)
        assert fanout.active_channels == 0  # not through the shared pub/sub connection
        for _ in range(3):
            await relay_wakeups.enqueue_relay(uuid4())

        assert await wait_for(subscription, 3) == 3
        assert await subscription.wait(0.05) == 0
        assert not subscription.lost
    finally:
        subscription.close()


async def test_wake_ups_read_before_a_wait_are_all_answered_by_it(
    fanout: RedisEventFanout, redis: Redis
) -> None:
    relay_wakeups = wakeups(fanout, redis)
    subscription = await relay_wakeups.subscribe()
    try:
        for _ in range(5):
            await relay_wakeups.enqueue_relay(uuid4())
        await asyncio.sleep(0.2)  # all five read off the socket before anyone waits

        assert await subscription.wait(WAIT) == 5
    finally:
        subscription.close()


async def test_a_closed_connection_is_reported_lost_and_a_new_subscription_is_served(
    fanout: RedisEventFanout, redis: Redis
) -> None:
    relay_wakeups = wakeups(fanout, redis)
    subscription = await relay_wakeups.subscribe()
    try:
        host, port = subscription._transport.get_extra_info("sockname")[:2]
        await redis.execute_command("CLIENT", "KILL", "ADDR", f"{host}:{port}")
        with pytest.raises(WakeupConnectionLostError):
            await wait_for(subscription, 1_000)
        assert subscription.lost
    finally:
        subscription.close()

    again = await relay_wakeups.subscribe()
    try:
        await relay_wakeups.enqueue_relay(uuid4())
        assert await wait_for(again, 1) == 1
    finally:
        again.close()


async def test_a_refused_handshake_fails_the_subscription(fanout: RedisEventFanout, redis_url: str) -> None:
    # The test Redis has no password: AUTH is refused, and the subscription with it.
    with_password = Redis.from_url(redis_url.replace("redis://", "redis://someone:wrong@", 1))
    try:
        with pytest.raises(RedisReplyError):
            await wakeups(fanout, with_password).subscribe()
    finally:
        await with_password.aclose()


async def test_without_a_tcp_client_the_shared_fan_out_serves_wake_ups(fanout: RedisEventFanout) -> None:
    relay_wakeups = wakeups(fanout, None)
    subscription = await relay_wakeups.subscribe()
    try:
        assert isinstance(subscription, RelayWakeupSubscription)
        await relay_wakeups.enqueue_relay(uuid4())
        assert await wait_for(subscription, 1) == 1
    finally:
        subscription.close()


async def test_a_quiet_connection_is_checked_with_a_ping_and_kept(
    fanout: RedisEventFanout, redis: Redis
) -> None:
    relay_wakeups = RedisRelayWakeups(fanout, f"test-{uuid4().hex}", redis, health_check_seconds=0.3)
    subscription = await relay_wakeups.subscribe()
    loop = asyncio.get_running_loop()
    try:
        assert isinstance(subscription, DirectWakeupSubscription)
        quiet_until = loop.time() + 2.0
        while loop.time() < quiet_until:  # several health intervals without a wake-up: PINGs, answered
            assert await subscription.wait(0.1) == 0
        assert not subscription.lost
        # Redis was heard lately (its handshake was 2 s ago), by its PONGs alone.
        assert loop.time() - subscription._protocol.heard_at < 1.0
        assert not subscription._protocol._replies  # PONGs are not kept

        await relay_wakeups.enqueue_relay(uuid4())
        assert await wait_for(subscription, 1) == 1  # a PONG is never counted as a wake-up
    finally:
        subscription.close()


async def test_a_connection_gone_silent_is_reported_lost(fanout: RedisEventFanout, redis: Redis) -> None:
    port = redis.connection_pool.connection_kwargs["port"]
    with tcp_proxy(port) as proxy:
        through_proxy = Redis(host="127.0.0.1", port=proxy.port)
        try:
            relay_wakeups = RedisRelayWakeups(
                fanout, f"test-{uuid4().hex}", through_proxy, health_check_seconds=0.2
            )
            subscription = await relay_wakeups.subscribe()
            try:
                await relay_wakeups.enqueue_relay(uuid4())
                assert await wait_for(subscription, 1) == 1
                proxy.go_silent()  # open, but nothing passes: only the health check can tell

                with pytest.raises(WakeupConnectionLostError):
                    await wait_until_lost(subscription)
                assert subscription.lost
            finally:
                subscription.close()
        finally:
            await through_proxy.aclose()


async def wait_until_lost(subscription: DirectWakeupSubscription | RelayWakeupSubscription) -> None:
    async with asyncio.timeout(WAIT):
        while True:
            await subscription.wait(0.05)


def test_replies_split_anywhere_are_read_once_complete() -> None:
    push = b"*3\r\n$7\r\nmessage\r\n$4\r\nchan\r\n$16\r\n" + bytes(range(16)) + b"\r\n"
    for cut in range(len(push)):
        assert _parse(bytearray(push[:cut]), 0) is None
    assert _parse(bytearray(push + b"+OK\r\n"), 0) == ([b"message", b"chan", bytes(range(16))], len(push))
    assert _parse(bytearray(b":1\r\n$-1\r\n"), 4) == (None, 9)
