"""Serialised catalog responses in Redis, shared by every API instance and dropped by any catalog write.

A write increments one generation counter; each page is stored with the generation read before its
query ran, and is served only while that generation is current. A reader that raced a write therefore
never serves what it read before the write, and invalidating is one command however many pages exist.
A read is one MGET of the generation and the page, sent through the process's auto-pipeline when it has
one, so concurrent reads share a round trip. Redis unavailable: every call is a
miss or a no-op for a few seconds (fail open), never an error; a write Redis could not be told about
stays visible for at most the entries' time to live.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.redis_pipelining import RedisAutoPipeline

logger = logging.getLogger(__name__)
# A cache is worth nothing if it waits on a stalled Redis: give up quickly, then leave Redis alone.
REDIS_TIMEOUT_SECONDS = 0.25
BYPASS_AFTER_FAILURE_SECONDS = 5.0
_CACHE_FAILURES = (RedisError, OSError, TimeoutError)


@dataclass(frozen=True, slots=True)
class CachedPage:
    etag: str
    headers: tuple[tuple[str, str], ...]  # the response's own headers (deprecation notices and the like)
    body: bytes


@dataclass(frozen=True, slots=True)
class Lookup:
    """The page when cached for the current generation, and that generation (None: Redis unavailable)."""

    generation: bytes | None
    page: CachedPage | None


UNAVAILABLE = Lookup(None, None)


class RedisCatalogPages:
    def __init__(
        self, redis: Redis, namespace: str, ttl_seconds: float, pipeline: RedisAutoPipeline | None = None
    ) -> None:
        self._redis = redis
        self._pipeline = pipeline
        self._prefix = f"{namespace}:catalog-page:"
        self._generation_key = f"{namespace}:catalog-generation"
        self._ttl_ms = max(1, int(ttl_seconds * 1000))
        self._bypass_until = 0.0

    async def lookup(self, key: str) -> Lookup:
        if self._bypassed():
            return UNAVAILABLE
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_SECONDS):
                if self._pipeline is None:
                    values = await self._redis.mget(self._generation_key, self._prefix + key)
                else:
                    (values,) = await self._pipeline.execute(
                        [("MGET", self._generation_key, self._prefix + key)]
                    )
        except _CACHE_FAILURES as error:
            self._failed("read", error)
            return UNAVAILABLE
        generation, stored = values[0] or b"0", values[1]
        # The client returns bytes (no decode_responses), and None for a missing page.
        if not isinstance(generation, bytes):
            return UNAVAILABLE
        if not isinstance(stored, bytes):
            return Lookup(generation, None)
        stored_generation, etag, headers, body = stored.split(b"\n", 3)
        if stored_generation != generation:
            return Lookup(generation, None)
        pairs = tuple((name, value) for name, value in msgspec.json.decode(headers))
        return Lookup(generation, CachedPage(etag.decode(), pairs, body))

    async def store(self, key: str, generation: bytes, page: CachedPage) -> None:
        if self._bypassed():
            return
        headers = msgspec.json.encode(page.headers)  # JSON escapes newlines: one line
        value = b"\n".join((generation, page.etag.encode(), headers, page.body))
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_SECONDS):
                await self._redis.set(self._prefix + key, value, px=self._ttl_ms)
        except _CACHE_FAILURES as error:
            self._failed("write", error)

    async def catalog_changed(self) -> None:
        """Every page cached so far stops being served (one INCR), in every instance at once."""
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_SECONDS):
                await self._redis.incr(self._generation_key)
        except _CACHE_FAILURES as error:
            self._failed("invalidation", error)

    def _bypassed(self) -> bool:
        return time.monotonic() < self._bypass_until

    def _failed(self, what: str, error: BaseException) -> None:
        if not self._bypassed():
            logger.warning(
                "catalog cache %s failed (%s); bypassing the cache for %s s",
                what,
                type(error).__name__,
                BYPASS_AFTER_FAILURE_SECONDS,
            )
        self._bypass_until = time.monotonic() + BYPASS_AFTER_FAILURE_SECONDS
