"""The relay fast path on SAQ: one job per outbox row, keyed by its id so it is enqueued once."""

from __future__ import annotations

from uuid import UUID

from saq import Queue

RELAY_FUNCTION = "relay_outbox_message"
DEFAULT_QUEUE_NAME = "voice-practice"


def build_queue(redis_url: str, name: str = DEFAULT_QUEUE_NAME) -> Queue:
    return Queue.from_url(redis_url, name=name)


class SaqRelayQueue:
    def __init__(self, queue: Queue, timeout_seconds: int = 60) -> None:
        self._queue = queue
        self._timeout = timeout_seconds

    async def enqueue_relay(self, outbox_id: UUID) -> None:
        await self._queue.enqueue(
            RELAY_FUNCTION,
            key=f"relay:{outbox_id}",
            outbox_id=str(outbox_id),
            timeout=self._timeout,
            retries=1,
        )
