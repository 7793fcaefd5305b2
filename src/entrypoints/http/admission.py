"""Admission control: at most so many uploads in one API process at once, the next one refused at once.

Beyond the limit an upload would only queue (for the decoder, the event loop and the connection pool)
and make every upload in the process slower; refused with 503 and ``Retry-After`` before its body is
read, it costs the process next to nothing and the client knows when to come back.
"""

from __future__ import annotations

from litestar.types import ASGIApp, Receive, Scope, Send

from entrypoints.http.problems import ProblemError

RETRY_AFTER_SECONDS = 1


class Admission:
    """Counts the requests of the routes it wraps that are in this process now; one over ``limit``
    is answered 503 ``/problems/overloaded`` with ``Retry-After``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0

    def middleware(self, app: ASGIApp) -> ASGIApp:
        async def admit(scope: Scope, receive: Receive, send: Send) -> None:
            if self.in_flight >= self.limit:
                raise ProblemError(
                    503,
                    "overloaded",
                    f"this server is working on {self.limit} uploads already; "
                    f"retry after {RETRY_AFTER_SECONDS} s",
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                )
            self.in_flight += 1
            try:
                await app(scope, receive, send)
            finally:
                self.in_flight -= 1

        return admit
