"""The GCRA limiter against real Redis: shared budgets, refills, and what happens when Redis is gone; each
behaviour both with the script called directly and through the process's shared auto-pipeline."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from adapters.ratelimit import redis_gcra
from adapters.ratelimit.redis_gcra import RateDecision, RateLimiterUnavailableError, RedisRateLimiter
from adapters.redis_pipelining import RedisAutoPipeline

DEAD_REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.fixture
def prefix() -> str:
    return f"test-ratelimit-{uuid.uuid4().hex}"


@pytest.fixture(params=["direct", "auto-pipelined"])
async def pipeline(request: pytest.FixtureRequest, redis: Redis) -> AsyncIterator[RedisAutoPipeline | None]:
    if request.param == "direct":
        yield None
        return
    shared = RedisAutoPipeline(redis)
    yield shared
    await shared.close()


@pytest.fixture
async def limiter(
    redis: Redis, prefix: str, pipeline: RedisAutoPipeline | None
) -> AsyncIterator[RedisRateLimiter]:
    yield RedisRateLimiter(redis, prefix=prefix, pipeline=pipeline)
    keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)


async def hits(
    limiter: RedisRateLimiter, times: int, subject: str = "ada", period: float = 60
) -> list[RateDecision]:
    return [await limiter.hit("login", subject, 3, period) for _ in range(times)]


async def test_requests_within_the_budget_are_allowed(limiter: RedisRateLimiter) -> None:
    assert all(decision.allowed for decision in await hits(limiter, 3))


async def test_the_request_over_the_budget_is_refused(limiter: RedisRateLimiter) -> None:
    assert not (await hits(limiter, 4))[-1].allowed


async def test_a_refusal_says_when_the_next_request_fits(limiter: RedisRateLimiter) -> None:
    refused = (await hits(limiter, 4))[-1]
    # 3 per minute: one more fits 20 s after the budget was spent.
    assert 19 <= refused.retry_after_seconds <= 20


async def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert RateDecision(allowed=False, retry_after_seconds=0.2, remaining=0).retry_after_header == "1"


async def test_remaining_counts_down_the_budget(limiter: RedisRateLimiter) -> None:
    assert [decision.remaining for decision in await hits(limiter, 3)] == [2, 1, 0]


async def test_subjects_have_budgets_of_their_own(limiter: RedisRateLimiter) -> None:
    await hits(limiter, 3, subject="ada")
    assert (await hits(limiter, 1, subject="grace"))[0].allowed


async def test_scopes_have_budgets_of_their_own(limiter: RedisRateLimiter) -> None:
    await hits(limiter, 3)
    assert (await limiter.hit("upload", "ada", 3, 60)).allowed


async def test_two_limiters_on_one_redis_share_the_budget(
    redis: Redis, prefix: str, limiter: RedisRateLimiter
) -> None:
    other_instance = RedisRateLimiter(redis, prefix=prefix)  # another process, calling directly
    await hits(limiter, 3)
    assert not (await other_instance.hit("login", "ada", 3, 60)).allowed


async def test_concurrent_requests_never_exceed_the_budget(limiter: RedisRateLimiter) -> None:
    decisions = await asyncio.gather(*(limiter.hit("login", "ada", 5, 60) for _ in range(20)))
    assert sum(decision.allowed for decision in decisions) == 5


async def test_the_budget_refills_over_the_period(limiter: RedisRateLimiter) -> None:
    await hits(limiter, 3, period=0.3)
    await asyncio.sleep(0.15)  # one request's share of the period
    assert (await limiter.hit("login", "ada", 3, 0.3)).allowed


async def test_keys_name_no_person(limiter: RedisRateLimiter, prefix: str) -> None:
    # Letters no hex digest or uuid prefix can hold ("ada" once matched a random prefix by chance).
    key = limiter.key("login", "grace.hopper@example.com")

    assert all(part not in key for part in ("grace", "hopper", "example"))
    assert key.startswith(f"{prefix}:login:")
    assert len(key.removeprefix(f"{prefix}:login:")) == 32


async def test_keys_expire_once_the_budget_is_whole_again(
    limiter: RedisRateLimiter, redis: Redis, prefix: str
) -> None:
    await limiter.hit("login", "ada", 3, 60)
    ttl_ms = await redis.pttl(limiter.key("login", "ada"))
    assert 0 < ttl_ms <= 20_000


@pytest.mark.parametrize("pipelined", [False, True])
async def test_an_unreachable_redis_is_reported_as_unavailable(pipelined: bool) -> None:
    dead = Redis.from_url(DEAD_REDIS_URL, socket_connect_timeout=0.2)
    shared = RedisAutoPipeline(dead) if pipelined else None
    try:
        with pytest.raises(RateLimiterUnavailableError):
            await RedisRateLimiter(dead, pipeline=shared).hit("login", "ada", 3, 60)
    finally:
        if shared is not None:
            await shared.close()
        await dead.aclose()


async def test_a_redis_without_the_script_gets_it_loaded_and_the_hit_counts(
    redis: Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A script no Redis has seen (a restarted or flushed Redis has lost the real one): EVALSHA through
    # the pipeline is refused with NOSCRIPT, so the hit loads it by a direct call.
    monkeypatch.setattr(redis_gcra, "_GCRA", f"{redis_gcra._GCRA}\n-- {uuid.uuid4()}")
    shared = RedisAutoPipeline(redis)
    limiter = RedisRateLimiter(redis, prefix=prefix, pipeline=shared)
    sha = limiter._script.sha
    try:
        assert await redis.script_exists(sha) == [False]
        assert [decision.remaining for decision in await hits(limiter, 4)][:3] == [2, 1, 0]
        assert await redis.script_exists(sha) == [True]
        assert not (await limiter.hit("login", "ada", 3, 60)).allowed
    finally:
        await shared.close()
        await redis.delete(limiter.key("login", "ada"))
