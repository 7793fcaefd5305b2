"""A GCRA rate limiter in one Redis Lua script, so every API instance counts against the same budget.

GCRA (the generic cell rate algorithm) keeps one number per key: the theoretical arrival time of the
next request. ``count`` requests per ``period`` may arrive at once; after that one more is allowed every
``period / count``. The script reads Redis's own clock, so instances with skewed clocks agree, and
the key expires by itself once the budget is whole again.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

from adapters.redis_pipelining import RedisAutoPipeline

_GCRA = """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
local allowed_from = next_tat - burst * interval
if allowed_from > now then
  return {0, allowed_from - now, 0}
end
redis.call('SET', KEYS[1], next_tat, 'PX', next_tat - now)
return {1, 0, math.floor((now - allowed_from) / interval)}
"""


class RateLimiterUnavailableError(Exception):
    """Redis did not answer in time; the caller decides whether to fail open or closed."""


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    retry_after_seconds: float
    remaining: int

    @property
    def retry_after_header(self) -> str:
        """Whole seconds for ``Retry-After``, never 0 for a refusal."""
        return str(max(1, math.ceil(self.retry_after_seconds)))


class RedisRateLimiter:
    def __init__(
        self,
        redis: Redis,
        prefix: str = "ratelimit",
        timeout_seconds: float = 0.5,
        pipeline: RedisAutoPipeline | None = None,
    ) -> None:
        """``pipeline``: the process's shared auto-pipeline, so a hit shares its round trip with the
        Redis calls other requests make meanwhile (``EVALSHA`` there; a Redis that lost the script gets
        it loaded once by a direct call)."""
        self._redis = redis
        self._prefix = prefix
        self._timeout = timeout_seconds
        self._script = redis.register_script(_GCRA)
        self._pipeline = pipeline

    def key(self, scope: str, subject: str) -> str:
        """Subjects (emails, addresses) are hashed: the keys name no person."""
        digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
        return f"{self._prefix}:{scope}:{digest}"

    async def hit(self, scope: str, subject: str, count: int, period_seconds: float) -> RateDecision:
        """Count one request of ``subject`` against ``count`` per ``period_seconds`` in ``scope``."""
        interval_ms = max(1, math.ceil(period_seconds * 1000 / count))
        try:
            async with asyncio.timeout(self._timeout):
                allowed, wait_ms, remaining = await self._run(self.key(scope, subject), interval_ms, count)
        except (TimeoutError, OSError, RedisError) as error:
            raise RateLimiterUnavailableError(str(error) or type(error).__name__) from error
        return RateDecision(bool(allowed), int(wait_ms) / 1000, int(remaining))

    async def _run(self, key: str, interval_ms: int, count: int) -> list[int]:
        if self._pipeline is not None:
            try:
                (reply,) = await self._pipeline.execute(
                    [("EVALSHA", self._script.sha, 1, key, interval_ms, count)]
                )
            except NoScriptError:
                pass  # a restarted or flushed Redis: the direct call below loads it again
            else:
                return list(reply)
        return list(await self._script(keys=[key], args=[interval_ms, count]))
