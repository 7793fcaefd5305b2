"""Ports of the analysis pipeline: dispatching to analysis servers, the relay queue, live events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from domain.analysis.jobs import JobEvent, RetryReason
from domain.catalog import ReferenceKind


@dataclass(frozen=True, slots=True)
class AnalysisRequest:
    """What an analysis server needs; ``job_id`` doubles as the request's idempotency id."""

    job_id: UUID
    kind: ReferenceKind
    recording_url: str
    recording_content_type: str
    reference_url: str
    reference_content_type: str
    callback_url: str
    deadline: datetime
    text: str
    words: list[dict[str, Any]] = field(default_factory=list)
    feature_config_version: str | None = None


class DispatchError(Exception):
    """The analysis server did not accept the request; ``cause`` classifies a retryable failure for the
    job's ``retrying`` event (``reason`` is for logs and may name hosts)."""

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        retry_after: timedelta | None = None,
        cause: RetryReason = RetryReason.SERVER_ERROR,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        self.cause = cause


class AnalysisDispatcher(Protocol):
    async def dispatch(self, request: AnalysisRequest) -> None:
        """Deliver the request; raise ``DispatchError`` saying whether a retry may succeed."""
        ...


class RelayQueue(Protocol):
    """The fast path from a committed outbox row to a worker. Losing a message only delays it."""

    async def enqueue_relay(self, outbox_id: UUID) -> None: ...


class JobEventPublisher(Protocol):
    """Live fan-out of committed job events; the database stays the source of truth."""

    async def publish(self, events: list[JobEvent]) -> None: ...


class LiveEventsUnavailableError(Exception):
    """The live channel (Redis) does not answer: followers read the database instead until it is back."""


class JobEventSubscription(Protocol):
    async def next(self, timeout_seconds: float) -> JobEvent | None:
        """The next live event, or None when none arrived within the timeout.

        Raises ``LiveEventsUnavailableError`` once the live channel is down: nothing would arrive.
        """
        ...

    async def close(self) -> None: ...


class JobEventFeed(Protocol):
    async def subscribe(self, job_id: UUID) -> JobEventSubscription:
        """Live events of one job from now on, from whichever process committed them.

        Raises ``LiveEventsUnavailableError`` when the live channel does not answer promptly.
        """
        ...
