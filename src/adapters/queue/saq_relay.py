"""The relay fast path on SAQ: one job per outbox row, keyed by its id so it is enqueued once."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any
from uuid import UUID

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from saq import Job, Queue
from saq.queue.redis import RedisQueue

RELAY_FUNCTION = "relay_outbox_message"
DEFAULT_QUEUE_NAME = "voice-practice"
FIRST_BACKOFF_SECONDS = 0.25
MAX_BACKOFF_SECONDS = 10.0
logger = logging.getLogger(__name__)


class BackingOffRedisQueue(RedisQueue):
    """SAQ's Redis queue, except that a dequeue failing because Redis is unreachable waits before it
    returns nothing: SAQ's worker starts its next dequeue at once, so without this every job slot spun
    on the refused connection, burning a core and flooding the log. The wait doubles up to 10 s, with
    jitter so the workers of a fleet do not come back in step, and starts over after a dequeue succeeds.
    Meanwhile the outbox sweep, which needs only Postgres, keeps relaying."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._failures = 0

    async def dequeue(self, timeout: float = 0.0, poll_interval: float = 0.0) -> Job | None:  # noqa: ASYNC109 -- SAQ's signature
        try:
            job = await super().dequeue(timeout, poll_interval)
        except (RedisConnectionError, RedisTimeoutError, OSError) as error:
            delay = min(FIRST_BACKOFF_SECONDS * 2**self._failures, MAX_BACKOFF_SECONDS)
            self._failures += 1
            logger.warning("dequeue failed (%r); Redis is tried again in %.1f s", error, delay)
            await asyncio.sleep(delay * random.uniform(0.8, 1.0))  # noqa: S311 -- jitter, not a secret
            return None
        self._failures = 0
        return job


def build_queue(redis_url: str, name: str = DEFAULT_QUEUE_NAME) -> Queue:
    return BackingOffRedisQueue.from_url(redis_url, name=name)


# The enqueue runs inside the upload request, after the commit. SAQ's Redis client has no timeouts, so a
# stalled Redis (CLIENT PAUSE, a failover, a full network buffer) held every upload for as long as it
# lasted. The outbox row is already committed and the worker's sweep relays any row nobody enqueued, so an
# enqueue that does not finish quickly is given up: the job is relayed a sweep interval later.
ENQUEUE_TIMEOUT_SECONDS = 0.3


class SaqRelayQueue:
    def __init__(
        self,
        queue: Queue,
        timeout_seconds: int = 60,
        enqueue_timeout_seconds: float = ENQUEUE_TIMEOUT_SECONDS,
    ) -> None:
        self._queue = queue
        self._timeout = timeout_seconds
        self._enqueue_timeout = enqueue_timeout_seconds

    async def enqueue_relay(self, outbox_id: UUID) -> None:
        """Raise ``TimeoutError`` when Redis does not take the job within the enqueue timeout."""
        async with asyncio.timeout(self._enqueue_timeout):
            await self._queue.enqueue(
                RELAY_FUNCTION,
                key=f"relay:{outbox_id}",
                outbox_id=str(outbox_id),
                timeout=self._timeout,
                retries=1,
            )
