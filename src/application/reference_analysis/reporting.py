"""A job's webhooks (started, progress, completed, failed), delivered in order without holding up the work."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from uuid import UUID

from application.ports.system import Clock
from application.reference_analysis.outcomes import Completed, Outcome
from application.reference_analysis.ports import Notification, WebhookSender
from shared_kernel import tracing

logger = logging.getLogger(__name__)

STARTED = "analysis.started"
PROGRESS = "analysis.progress"
COMPLETED = "analysis.completed"
FAILED = "analysis.failed"
# The protocol's stages in order, with the percentage reported on entering each.
STAGE_PERCENT = {"downloading": 10, "decoding": 25, "features": 45, "aligning": 65, "scoring": 85}


def webhook_id(job_id: UUID, event: str) -> str:
    """The same id for the same event of a job, also when a restarted server analyses the job again.

    The API applies a webhook-id once, so an event it has seen (from a retried delivery or a second
    analysis of a repeated request) is a no-op there.
    """
    return f"msg_{job_id.hex}_{event}"


class JobReports:
    """The webhooks of one job. Each call queues one; they reach the callback one after another, in order.

    Queuing returns at once: the analysis goes on while earlier webhooks are being delivered.
    """

    def __init__(
        self,
        job_id: UUID,
        callback_url: str,
        sender: WebhookSender,
        clock: Clock,
        pending: set[asyncio.Task[bool]],
        traceparent: str | None = None,
    ) -> None:
        self.job_id = job_id
        self._traceparent = traceparent
        self._callback_url = callback_url
        self._sender = sender
        self._clock = clock
        self._pending = pending
        self._tail: asyncio.Task[bool] | None = None

    def started(self) -> None:
        self._queue("started", STARTED, {})

    def progress(self, stage: str) -> None:
        percent = STAGE_PERCENT.get(stage)
        if percent is None:
            logger.warning("no progress percentage for stage %r; not reported", stage)
            return
        self._queue(f"progress_{stage}", PROGRESS, {"stage": stage, "percent": percent})

    def finished(self, outcome: Outcome) -> None:
        if isinstance(outcome, Completed):
            self._queue("completed", COMPLETED, {"result": outcome.result})
        else:
            self._queue("failed", FAILED, {"code": outcome.code, "message": outcome.message})

    def _queue(self, event: str, event_type: str, data: Mapping[str, object]) -> None:
        notification = Notification(
            webhook_id=webhook_id(self.job_id, event),
            type=event_type,
            occurred_at=self._clock.now(),
            data={"job_id": str(self.job_id), **data},
        )
        self._tail = asyncio.create_task(self._deliver_after(self._tail, notification))
        self._pending.add(self._tail)
        self._tail.add_done_callback(self._pending.discard)

    async def _deliver_after(self, previous: asyncio.Task[bool] | None, notification: Notification) -> bool:
        if previous is not None:
            await asyncio.wait([previous])
        try:
            # Each delivery (its retries included) is a span of the job's trace, and the sender passes
            # it on: the API's handling of the webhook becomes part of the same trace.
            with tracing.span(
                "webhook.send",
                parent=self._traceparent,
                kind="client",
                attributes={"job.id": str(self.job_id), "webhook.type": notification.type},
            ):
                return await self._sender.deliver(self._callback_url, notification)
        except Exception:
            logger.exception("webhook %s of job %s could not be sent", notification.type, self.job_id)
            return False


class Reporter:
    """Opens each job's reports and keeps track of deliveries still under way, for a graceful stop."""

    def __init__(self, sender: WebhookSender, clock: Clock) -> None:
        self._sender = sender
        self._clock = clock
        self._pending: set[asyncio.Task[bool]] = set()

    def for_job(self, job_id: UUID, callback_url: str, traceparent: str | None = None) -> JobReports:
        """The job's reports; with ``traceparent`` their deliveries are spans of that trace."""
        return JobReports(job_id, callback_url, self._sender, self._clock, self._pending, traceparent)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def drain(self, timeout_seconds: float) -> int:
        """Wait for deliveries under way; cancel those still running after the timeout (returns how many)."""
        if not self._pending:
            return 0
        _, unfinished = await asyncio.wait(set(self._pending), timeout=timeout_seconds)
        for task in unfinished:
            task.cancel()
        if unfinished:
            await asyncio.wait(unfinished)
            logger.warning("%d webhook deliveries were cut short by the shutdown", len(unfinished))
        return len(unfinished)
