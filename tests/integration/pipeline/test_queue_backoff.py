"""With Redis unreachable, the SAQ queue's dequeue waits before returning nothing instead of spinning."""

from __future__ import annotations

import time

from adapters.queue.saq_relay import build_queue
from tests.support.full_system import free_port


async def test_dequeue_backs_off_while_redis_is_unreachable() -> None:
    queue = build_queue(f"redis://127.0.0.1:{free_port()}/0", "backoff-test")
    attempts = 0
    started = time.monotonic()
    try:
        while time.monotonic() - started < 2.0:
            assert await queue.dequeue(timeout=1.0) is None
            attempts += 1
    finally:
        await queue.redis.aclose()  # disconnect() would talk to the absent server

    # 0.25 s, 0.5 s, 1 s, 2 s (less a fifth of jitter at most): a handful of tries, not thousands.
    assert attempts <= 5
