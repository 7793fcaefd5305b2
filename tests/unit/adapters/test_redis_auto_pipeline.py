"""RedisAutoPipeline on a stand-in for redis-py's pipeline: concurrent calls share round trips, in order;
a caller that gave up has its commands dropped; a failed round trip fails every caller in it, a refused
command only its own caller."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.exceptions import NoScriptError

from adapters import redis_pipelining
from adapters.redis_pipelining import RedisAutoPipeline


class _Pipeline:
    def __init__(self, redis: _Redis) -> None:
        self._redis = redis
        self._messages: list[tuple[str, bytes]] = []

    async def __aenter__(self) -> _Pipeline:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    def execute_command(self, name: str, channel: str, payload: bytes) -> None:
        assert name == "PUBLISH"
        self._messages.append((channel, payload))

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        assert raise_on_error is False  # a refused command fails its own caller, not the round trip
        await self._redis.gate.wait()
        if self._redis.error is not None:
            raise self._redis.error
        self._redis.round_trips.append(self._messages)
        return [NoScriptError("refused") if payload == b"refuse" else 1 for _, payload in self._messages]


class _Redis:
    """Records each pipeline's messages as one round trip; ``gate`` holds round trips while cleared."""

    def __init__(self) -> None:
        self.round_trips: list[list[tuple[str, bytes]]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.error: Exception | None = None

    def pipeline(self, transaction: bool = True) -> _Pipeline:
        assert transaction is False  # PUBLISHes need no MULTI/EXEC
        return _Pipeline(self)


class _Queue:
    """Publishes through the auto-pipeline, as the event fanout does."""

    def __init__(self, redis: _Redis) -> None:
        self.pipeline = RedisAutoPipeline(redis)  # type: ignore[arg-type]  # the stand-in has what is used

    async def publish(self, messages: list[tuple[str, bytes]]) -> list[Any]:
        return await self.pipeline.execute([("PUBLISH", channel, payload) for channel, payload in messages])

    async def close(self) -> None:
        await self.pipeline.close()


def _queue(redis: _Redis) -> _Queue:
    return _Queue(redis)


async def test_publishes_made_while_a_round_trip_is_out_go_together_in_the_next_in_order() -> None:
    redis = _Redis()
    queue = _queue(redis)
    redis.gate.clear()
    first = asyncio.create_task(queue.publish([("a", b"1")]))
    await asyncio.sleep(0)  # the first round trip is out, held at the gate
    await asyncio.sleep(0)
    later = [asyncio.create_task(queue.publish([("a", b"%d" % n), ("b", b"%d" % n)])) for n in range(2, 6)]
    await asyncio.sleep(0)
    redis.gate.set()
    await asyncio.gather(first, *later)

    assert redis.round_trips == [
        [("a", b"1")],
        [
            ("a", b"2"),
            ("b", b"2"),
            ("a", b"3"),
            ("b", b"3"),
            ("a", b"4"),
            ("b", b"4"),
            ("a", b"5"),
            ("b", b"5"),
        ],
    ]


async def test_a_lone_publish_goes_out_at_once_and_returns_when_redis_took_it() -> None:
    redis = _Redis()
    queue = _queue(redis)

    await queue.publish([("a", b"1")])
    assert redis.round_trips == [[("a", b"1")]]
    await queue.publish([("a", b"2")])
    assert redis.round_trips == [[("a", b"1")], [("a", b"2")]]


async def test_a_caller_that_gave_up_before_its_round_trip_has_its_messages_dropped() -> None:
    redis = _Redis()
    queue = _queue(redis)
    redis.gate.clear()
    held = asyncio.create_task(queue.publish([("a", b"held")]))
    await asyncio.sleep(0)
    late = asyncio.create_task(queue.publish([("a", b"late")]))
    await asyncio.sleep(0)
    late.cancel()  # as its timeout would
    with pytest.raises(asyncio.CancelledError):
        await late
    redis.gate.set()
    await held
    await queue.publish([("a", b"next")])

    assert redis.round_trips == [[("a", b"held")], [("a", b"next")]]


async def test_a_round_trip_longer_than_its_timeout_fails_its_callers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(redis_pipelining, "ROUND_TRIP_TIMEOUT_SECONDS", 0.05)
    redis = _Redis()
    queue = _queue(redis)
    redis.gate.clear()

    with pytest.raises(TimeoutError):
        await queue.publish([("a", b"1")])


async def test_a_refused_command_fails_its_own_caller_only() -> None:
    redis = _Redis()
    queue = _queue(redis)
    redis.gate.clear()
    first = asyncio.create_task(queue.publish([("a", b"1")]))
    await asyncio.sleep(0)
    refused = asyncio.create_task(queue.publish([("a", b"2"), ("a", b"refuse")]))
    fine = asyncio.create_task(queue.publish([("a", b"3"), ("b", b"3")]))
    await asyncio.sleep(0)
    redis.gate.set()

    assert await first == [1]
    with pytest.raises(NoScriptError):
        await refused
    assert await fine == [1, 1]
    assert len(redis.round_trips) == 2


async def test_a_failed_round_trip_fails_every_caller_in_it_and_the_next_one_is_sent() -> None:
    redis = _Redis()
    queue = _queue(redis)
    redis.gate.clear()
    first = asyncio.create_task(queue.publish([("a", b"1")]))
    await asyncio.sleep(0)
    together = [asyncio.create_task(queue.publish([("a", b"%d" % n)])) for n in (2, 3)]
    await asyncio.sleep(0)
    redis.error = ConnectionError("Redis went away")
    redis.gate.set()
    outcomes: list[Any] = await asyncio.gather(first, *together, return_exceptions=True)
    assert all(isinstance(outcome, ConnectionError) for outcome in outcomes)

    redis.error = None
    await queue.publish([("a", b"4")])
    assert redis.round_trips == [[("a", b"4")]]


async def test_closing_fails_the_callers_still_waiting() -> None:
    redis = _Redis()
    queue = _queue(redis)
    redis.gate.clear()
    waiting = asyncio.create_task(queue.publish([("a", b"1")]))
    await asyncio.sleep(0)
    await queue.close()

    with pytest.raises(ConnectionError):
        await waiting
    assert redis.round_trips == []
