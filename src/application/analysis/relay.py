"""Relaying outbox rows to the analysis servers, at least once, with backoff and a final failure."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from application.analysis.settings import PipelineSettings
from application.ports.analysis import (
    AnalysisDispatcher,
    AnalysisRequest,
    DispatchError,
)
from application.ports.persistence import UnitOfWorkFactory
from application.ports.storage import ObjectStorage
from application.ports.system import Clock
from domain.analysis.jobs import FailureCode, Job, RetryReason
from domain.analysis.outbox import OutboxMessage
from domain.catalog import PracticeItem
from shared_kernel import tracing

logger = logging.getLogger(__name__)
DEFAULT_CONCURRENCY = 16  # dispatches in flight per relay (per worker process)
REFERENCE_REMOVED_REASON = (
    "The line or script you recorded was removed before it could be analysed. Please choose another one."
)


class _ReferenceRemovedError(Exception):
    """The job's token or script, or its reference audio, is gone: it can never be analysed."""


@dataclass(frozen=True, slots=True)
class RelayOutcome:
    message_id: UUID
    outcome: str  # sent | retry | failed | skipped (settled without a request) | not_claimed


class OutboxRelay:
    """Claims due outbox rows (one by id on the fast path, a batch on the sweep) and dispatches them.

    A row is leased before the request is sent and marked sent only after the server accepted it,
    so a worker killed in between leaves the row to be retried when the lease runs out; the server
    recognises the repeated job id and does the work once.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        storage: ObjectStorage,
        dispatcher: AnalysisDispatcher,
        clock: Clock,
        settings: PipelineSettings,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self._uow = uow
        self._storage = storage
        self._dispatcher = dispatcher
        self._clock = clock
        self._settings = settings
        self._slots = asyncio.Semaphore(concurrency)

    # A claim counts an attempt and starts the row's lease, so a row is claimed only once it holds a
    # concurrency slot: waiting for one neither uses up attempts nor lets the lease run out.

    async def relay(self, message_id: UUID) -> RelayOutcome:
        async with self._slots:
            async with self._uow() as uow:
                message = await uow.outbox.claim(message_id, self._clock.now(), self._settings.relay_lease)
                await uow.commit()
            if message is None:
                return RelayOutcome(message_id, "not_claimed")
            return await self._deliver(message)

    async def sweep(self, batch_size: int = 100) -> list[RelayOutcome]:
        """Relay due rows the fast path missed (Redis down, worker killed, retries due), as many as
        there are free slots; the rest wait, unclaimed, for the next sweep."""
        held = 0
        while held < batch_size and not self._slots.locked():
            await self._slots.acquire()  # returns at once: a slot is free
            held += 1
        messages: list[OutboxMessage] = []
        try:
            if held:
                async with self._uow() as uow:
                    messages = await uow.outbox.claim_due(self._clock.now(), self._settings.relay_lease, held)
                    await uow.commit()
        finally:
            for _ in range(held - len(messages)):
                self._slots.release()
        return list(await asyncio.gather(*(self._deliver_and_release(message) for message in messages)))

    async def _deliver_and_release(self, message: OutboxMessage) -> RelayOutcome:
        try:
            return await self._deliver(message)
        finally:
            self._slots.release()

    async def _deliver(self, message: OutboxMessage) -> RelayOutcome:
        """Dispatch the row within the upload's trace: the time since the row was written (retries
        included) as one span, then the dispatch."""
        attributes: tracing.Attributes = {"job.id": str(message.job_id), "outbox.attempt": message.attempts}
        tracing.record(
            "outbox.wait",
            parent=message.traceparent,
            start=message.created_at,
            end=self._clock.now(),
            attributes=attributes,
        )
        with tracing.span("analysis.dispatch", parent=message.traceparent, attributes=attributes):
            return await self._dispatch(message)

    async def _dispatch(self, message: OutboxMessage) -> RelayOutcome:
        """Build and send the request within the dispatch budget, which ends before the lease does."""
        budget = self._settings.dispatch_budget.total_seconds()
        try:
            async with asyncio.timeout(budget):
                request = await self._build_request(message)
                if request is not None:
                    await self._dispatcher.dispatch(request)
        except _ReferenceRemovedError:
            await self._finish(message, outcome="removed")
            return RelayOutcome(message.id, "skipped")
        except DispatchError as error:
            return await self._handle_failure(message, error)
        except TimeoutError:
            late = DispatchError(
                f"no answer within the dispatch budget of {budget:g} s",
                retryable=True,
                cause=RetryReason.TIMED_OUT,
            )
            return await self._handle_failure(message, late)
        outcome = "sent" if request is not None else "skipped"
        await self._finish(message, outcome=outcome)
        return RelayOutcome(message.id, outcome)

    async def _build_request(self, message: OutboxMessage) -> AnalysisRequest | None:
        async with self._uow() as uow:
            job = await uow.jobs.get(message.job_id)
            if job is None or job.status.is_terminal or job.recording is None:
                return None
            item = await uow.items.get(job.item_id) if job.item_id else None
        if item is None or item.reference_audio is None:
            raise _ReferenceRemovedError
        return await self._request(job, item)

    async def _request(self, job: Job, item: PracticeItem) -> AnalysisRequest:
        reference = item.reference_audio
        assert job.recording is not None
        assert reference is not None
        ttl = int(self._settings.presigned_url_ttl.total_seconds())
        recording_url = await self._storage.presigned_get_url(job.recording.key, ttl)
        reference_url = await self._storage.presigned_get_url(reference.key, ttl)
        return AnalysisRequest(
            job_id=job.id,
            kind=job.kind,
            recording_url=recording_url.url,
            recording_content_type=job.recording.content_type,
            reference_url=reference_url.url,
            reference_content_type=reference.content_type,
            callback_url=self._settings.callback_url,
            deadline=self._clock.now() + self._settings.deadline(job.kind),
            text=item.text,
            words=[
                {
                    "index": word.index,
                    "text": word.text,
                    "start": word.start,
                    "end": word.end,
                    "reference_features": dict(word.reference_features) if word.reference_features else None,
                }
                for word in item.words
            ],
            feature_config_version=item.feature_config_version,
        )

    async def _finish(self, message: OutboxMessage, outcome: str) -> None:
        now = self._clock.now()
        async with self._uow() as uow:
            stored = await uow.outbox.get_for_update(message.id)
            if stored is None or stored.sent_at is not None:
                return
            stored.sent_at = now
            stored.last_error = _SETTLED_ERRORS[outcome]
            await uow.outbox.save(stored)
            job = await uow.jobs.get_for_update(message.job_id) if outcome != "skipped" else None
            if job is not None:
                if outcome == "sent":
                    job.mark_dispatched(now, self._settings.deadline(job.kind))
                else:
                    job.fail(FailureCode.REFERENCE_REMOVED, REFERENCE_REMOVED_REASON, now)
                await uow.jobs.save(job)
            await uow.commit()

    async def _handle_failure(self, message: OutboxMessage, error: DispatchError) -> RelayOutcome:
        now = self._clock.now()
        policy = self._settings.retry
        give_up = not error.retryable or policy.exhausted(message.attempts)
        async with self._uow() as uow:
            stored = await uow.outbox.get_for_update(message.id)
            if stored is None or stored.sent_at is not None:
                return RelayOutcome(message.id, "skipped")
            stored.last_error = error.reason[:500]
            if give_up:
                stored.sent_at = now
                job = await uow.jobs.get_for_update(message.job_id)
                if job is not None:
                    code = (
                        FailureCode.DISPATCH_EXHAUSTED if error.retryable else FailureCode.DISPATCH_REJECTED
                    )
                    if job.fail(code, _user_reason(error, message.attempts), now):
                        await uow.jobs.save(job)
            else:
                delay: timedelta = policy.delay(message.attempts, error.retry_after)
                stored.next_attempt_at = now + delay
                # The job stays queued; its stream shows why it waits and when the next try is.
                job = await uow.jobs.get_for_update(message.job_id)
                if job is not None and job.note_retry(
                    message.attempts, error.cause, stored.next_attempt_at, now
                ):
                    await uow.jobs.save(job)
            await uow.outbox.save(stored)
            await uow.commit()
        level = logging.WARNING if give_up else logging.INFO
        logger.log(
            level,
            "dispatch of job %s failed (attempt %s): %s",
            message.job_id,
            message.attempts,
            error.reason,
        )
        return RelayOutcome(message.id, "failed" if give_up else "retry")


_SETTLED_ERRORS: dict[str, str | None] = {
    "sent": None,
    "skipped": "job no longer needs analysis",
    "removed": "the job's practice item or its reference audio was removed",
}


def _user_reason(error: DispatchError, attempts: int) -> str:
    if error.retryable:
        return f"The analysis service could not be reached after {attempts} attempts. Please try again later."
    return "The analysis service refused this recording. Please try another recording."
