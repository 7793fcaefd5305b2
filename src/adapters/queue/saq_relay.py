"""SAQ's queue for the worker's cron jobs, and the relay function an API before the wake-ups
(adapters.queue.relay_wakeups) enqueued per outbox row (still relayed, so none is stranded by an upgrade)."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

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
