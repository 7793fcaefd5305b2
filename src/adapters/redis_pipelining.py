"""Commands from concurrent callers, sent to Redis in one pipeline per round trip (the idea of Redis
clients' auto-pipelining): while one pipeline is out, what callers submit meanwhile waits and goes out
together in the next.

Every upload makes three small Redis calls on the API's hot path: the upload rate limit's script before
the body is read, and two PUBLISHes after the job's commit (its queued event, the relay's wake-up). Each
pipeline cost its caller the client's per-round-trip work (a pooled connection taken and given back,
the commands packed, a socket write, the replies parsed) and Redis a read and a write; under load the
API spent about a seventh of its CPU there. A lone call still goes out at once, in the event loop's
next turn.

Commands go out in the order they were submitted, pipelines one after the other, so what a caller
submits after another call has returned still runs after it. A caller that gave up (its timeout, its
cancellation) before its commands went out has them dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

# A round trip that takes longer fails every caller in it; callers wait less if they choose.
ROUND_TRIP_TIMEOUT_SECONDS = 0.5

Command = tuple[Any, ...]  # one Redis command's arguments, as for ``execute_command``
_Waiting = tuple[Sequence[Command], "asyncio.Future[list[Any]]"]


class RedisAutoPipeline:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._waiting: list[_Waiting] = []
        self._sending: asyncio.Task[None] | None = None

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        """Run ``commands`` after every command submitted before them; their replies, in order.

        A command Redis refuses raises its error (``redis.exceptions.ResponseError``; the caller's other
        commands ran); a round trip that failed or outlasted ``ROUND_TRIP_TIMEOUT_SECONDS`` raises its
        error for every caller in it. Wrap the call in a timeout to wait less: cancelled before its
        round trip, a call's commands are dropped."""
        if not commands:
            return []
        loop = asyncio.get_running_loop()
        replied: asyncio.Future[list[Any]] = loop.create_future()
        self._waiting.append((commands, replied))
        if self._sending is None:
            self._sending = loop.create_task(self._send_waiting(), name="redis-auto-pipeline")
        return await replied  # cancelled with its caller, so its commands are dropped if not yet sent

    async def _send_waiting(self) -> None:
        try:
            while self._waiting:
                batch = [(commands, replied) for commands, replied in self._waiting if not replied.done()]
                self._waiting = []
                if batch:
                    await self._send(batch)
        finally:
            self._sending = None
            _fail(self._waiting)  # only when stopped: the loop above sends all
            self._waiting = []

    async def _send(self, batch: list[_Waiting]) -> None:
        try:
            async with asyncio.timeout(ROUND_TRIP_TIMEOUT_SECONDS):
                async with self._redis.pipeline(transaction=False) as pipe:
                    for commands, _ in batch:
                        for command in commands:
                            pipe.execute_command(*command)
                    replies = await pipe.execute(raise_on_error=False)
        except Exception as error:
            _fail(batch, error)
        except BaseException:
            _fail(batch)
            raise
        else:
            start = 0
            for commands, replied in batch:
                mine = replies[start : start + len(commands)]
                start += len(commands)
                if replied.done():
                    continue
                refused = next((reply for reply in mine if isinstance(reply, Exception)), None)
                if refused is not None:
                    replied.set_exception(refused)
                else:
                    replied.set_result(mine)

    async def close(self) -> None:
        """Stop sending; callers still waiting get ``ConnectionError``."""
        sending, self._sending = self._sending, None
        if sending is not None:
            await cancel_until_done(sending)
        _fail(self._waiting)
        self._waiting = []


async def cancel_until_done(task: asyncio.Task[None], poll_seconds: float = 0.1) -> None:
    """Cancel until the task ends: on Python 3.11 a cancellation that lands in redis-py's
    ``asyncio.wait_for`` just as the wrapped call completes is swallowed."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=poll_seconds)


def _fail(batch: list[_Waiting], error: Exception | None = None) -> None:
    for _, replied in batch:
        if not replied.done():
            replied.set_exception(error or ConnectionError("the Redis pipeline was closed"))
