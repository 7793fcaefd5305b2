"""The transactional outbox: a request to dispatch a job, written with the job, relayed later."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID


@dataclass(slots=True)
class OutboxMessage:
    id: UUID
    job_id: UUID
    created_at: datetime
    attempts: int = 0
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    last_error: str | None = None
    # The W3C ``traceparent`` of the request that wrote the row (None while tracing is off): the
    # relay's spans continue that trace.
    traceparent: str | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, honouring a server's Retry-After when it is longer."""

    max_attempts: int = 8
    base_delay: timedelta = timedelta(milliseconds=500)
    max_delay: timedelta = timedelta(seconds=60)

    def delay(
        self, attempt: int, retry_after: timedelta | None = None, rng: random.Random | None = None
    ) -> timedelta:
        """Delay before attempt number ``attempt + 1`` (``attempt`` counts from 1)."""
        ceiling: timedelta = min(self.max_delay, self.base_delay * (2 ** max(attempt - 1, 0)))
        fraction: float = (rng or random).uniform(0.5, 1.0)
        jittered: timedelta = ceiling * fraction
        if retry_after is not None:
            return max(jittered, min(retry_after, self.max_delay * 10))
        return jittered

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
