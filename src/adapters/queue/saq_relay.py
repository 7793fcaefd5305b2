"""The relay fast path on SAQ: one job per outbox row, keyed by its id so it is enqueued once."""

from __future__ import annotations

import asyncio
from uuid import UUID

from saq import Queue

RELAY_FUNCTION = "relay_outbox_message"
DEFAULT_QUEUE_NAME = "voice-practice"


def build_queue(redis_url: str, name: str = DEFAULT_QUEUE_NAME) -> Queue:
    return Queue.from_url(redis_url, name=name)


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
