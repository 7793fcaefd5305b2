"""Admission control: at most so many uploads in one API process at once; the next waits a moment for a
slot, then is refused.

Beyond the limit an upload would only queue (for the decoder, the event loop and the connection pool)
and make every upload in the process slower. One that finds every slot taken waits, first come first
served, up to ``wait_seconds`` for one to free (a burst, such as the connections held in the listening
socket's backlog while the process restarted, gets in instead of being turned away); past that it is
refused with 503 and ``Retry-After`` before its body is read, which costs the process next to nothing
and tells the client when to come back. The wait bounds how much longer an accepted upload can take.
"""

from __future__ import annotations

import asyncio
from collections import deque

from litestar.types import ASGIApp, Receive, Scope, Send

from entrypoints.http.problems import ProblemError

RETRY_AFTER_SECONDS = 1


class Admission:
    """Counts the requests of the routes it wraps that are in this process now; one over ``limit``
    waits up to ``wait_seconds`` for a slot, then is answered 503 ``/problems/overloaded`` with
    ``Retry-After``."""

    def __init__(self, limit: int, wait_seconds: float = 0.0) -> None:
        self.limit = limit
        self.wait_seconds = wait_seconds
        self.in_flight = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def middleware(self, app: ASGIApp) -> ASGIApp:
        async def admit(scope: Scope, receive: Receive, send: Send) -> None:
            await self._enter()
            try:
                await app(scope, receive, send)
            finally:
                self._leave()

        return admit

    async def _enter(self) -> None:
        if self.in_flight < self.limit and not self._waiting:
            self.in_flight += 1
            return
        if self.wait_seconds <= 0:
            raise self._overloaded()
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await asyncio.wait({turn}, timeout=self.wait_seconds)
        except BaseException:  # the client went away while waiting
            self._give_up(turn)
            raise
        if not turn.done():
            self._give_up(turn)
            raise self._overloaded()
        # A leaving request handed its slot over: in_flight already counts this one.

    def _give_up(self, turn: asyncio.Future[None]) -> None:
        if turn.done():  # the slot was handed over in the same moment: pass it on
            self._leave()
            return
        turn.cancel()
        self._waiting.remove(turn)

    def _leave(self) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self.in_flight -= 1

    def _overloaded(self) -> ProblemError:
        return ProblemError(
            503,
            "overloaded",
            f"this server is working on {self.limit} uploads already; retry after {RETRY_AFTER_SECONDS} s",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
