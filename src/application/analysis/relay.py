"""Relaying outbox rows to the analysis servers, at least once, with backoff and a final failure."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from application.analysis.settings import PipelineSettings
from application.ports.analysis import (
    AnalysisDispatcher,
    AnalysisRequest,
    DispatchError,
)
from application.ports.persistence import (
    ClaimedDispatch,
    DispatchJob,
    DispatchReference,
    OutboxClaims,
    UnitOfWorkFactory,
)
from application.ports.storage import ObjectStorage
from application.ports.system import Clock
from domain.analysis.jobs import FailureCode, RetryReason
from domain.analysis.outbox import OutboxMessage
from domain.catalog import ReferenceKind
from shared_kernel import tracing

logger = logging.getLogger(__name__)
DEFAULT_CONCURRENCY = 16  # dispatches in flight per relay (per worker process)
REFERENCE_REMOVED_REASON = (
    "The line or script you recorded was removed before it could be analysed. Please choose another one."
)


class _ReferenceRemovedError(Exception):
    """The job's token or script, or its reference audio, is gone: it can never be analysed."""


class _Settlements:
    """Coalesced group commit of the marks: a row's mark waits for the batch it joined to commit.

    The first mark starts a batch, which waits up to ``window`` seconds for others (or until it holds
    ``max_batch`` marks, or no relay slot is free: a waiting mark holds its row's slot, and must not
    hold back the next claim) and is then written by one statement; marks arriving while a batch is written
    form the next one. The wait is off the dispatch's latency path: the request already reached the
    analysis server, whose webhooks may come before the mark (``Job.note_reached_server``). It is well
    within the lease (``PipelineSettings.relay_mark_window``), so no other relay claims a row whose mark
    waits. ``flush`` writes what waits at once and stops waiting from then on (a stopping worker).

    A batch whose statement fails is tried once more; failing again, it fails each of its marks,
    whose rows then wait out their leases and are retried.
    """

    def __init__(
        self,
        settle: Callable[[list[tuple[OutboxMessage, str]]], Awaitable[None]],
        window: float = 0.0,
        max_batch: int = DEFAULT_CONCURRENCY,
        starved: Callable[[], bool] = lambda: False,
    ) -> None:
        self._settle = settle
        self._window = window
        self._max_batch = max_batch
        self._starved = starved
        self._pending: list[tuple[OutboxMessage, str, asyncio.Future[None]]] = []
        self._draining: asyncio.Task[None] | None = None
        self._gathered: asyncio.Future[None] | None = None  # done: write the batch now

    async def settle(self, message: OutboxMessage, outcome: str) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((message, outcome, done))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain(), name="outbox-settlements")
        elif len(self._pending) >= self._max_batch or self._starved():
            self.write_now()
        await done

    async def flush(self) -> None:
        """Write the marks waiting now, and from now on each batch without waiting for company."""
        self._window = 0.0
        self.write_now()
        if self._draining is not None:
            await asyncio.wait({self._draining})

    def write_now(self) -> None:
        if self._gathered is not None and not self._gathered.done():
            self._gathered.set_result(None)

    async def _gather(self) -> None:
        """Wait for the window to pass or the batch to fill, whichever is first."""
        if self._window <= 0 or len(self._pending) >= self._max_batch or self._starved():
            return
        loop = asyncio.get_running_loop()
        self._gathered = gathered = loop.create_future()
        timer = loop.call_later(self._window, self.write_now)
        try:
            await gathered
        finally:
            timer.cancel()
            self._gathered = None

    async def _drain(self) -> None:
        while self._pending:
            try:
                await self._gather()
            except BaseException:  # cancelled (the worker stops): no mark waits forever
                _resolve(self._pending, asyncio.CancelledError())
                self._pending = []
                raise
            batch, self._pending = self._pending, []
            marks = [(message, outcome) for message, outcome, _ in batch]
            try:
                try:
                    await self._settle(marks)
                except Exception:
                    # Once more at once: marking is idempotent, and a connection the database dropped
                    # (a restart; the worker's pool does not ping) fails only the first transaction.
                    logger.info("marking %d relayed rows failed; trying once more", len(marks), exc_info=True)
                    await self._settle(marks)
            except Exception as error:
                _resolve(batch, error)
                continue
            except BaseException:  # cancelled (the worker stops): no mark waits forever
                _resolve(batch + self._pending, asyncio.CancelledError())
                self._pending = []
                raise
            _resolve(batch, None)


def _resolve(
    batch: list[tuple[OutboxMessage, str, asyncio.Future[None]]], error: BaseException | None
) -> None:
    for _, _, done in batch:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)


@dataclass(frozen=True, slots=True)
class RelayOutcome:
    message_id: UUID
    outcome: str  # sent | retry | failed | skipped (settled without a request) | not_claimed


@dataclass(frozen=True, slots=True)
class DispatchRound:
    """Rows claimed together: how many, and their outcomes once every one is settled."""

    claimed: int
    outcomes: asyncio.Future[list[RelayOutcome]]


class OutboxRelay:
    """Claims due outbox rows (one by id on the fast path, a batch on the sweep) and dispatches them.

    A row is leased before the request is sent and marked sent only after the server accepted it,
    so a worker killed in between leaves the row to be retried when the lease runs out; the server
    recognises the repeated job id and does the work once.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        claims: OutboxClaims,
        storage: ObjectStorage,
        dispatcher: AnalysisDispatcher,
        clock: Clock,
        settings: PipelineSettings,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self._uow = uow
        self._claims = claims
        self._storage = storage
        self._dispatcher = dispatcher
        self._clock = clock
        self._settings = settings
        self._slots = asyncio.Semaphore(concurrency)
        # Claims taking the free slots for their rows right now (dispatch_due): while one does, every
        # slot may look taken without any claim being held back.
        self._reserving = 0
        self._settlements = _Settlements(
            self._settle,
            settings.relay_mark_window.total_seconds(),
            max_batch=concurrency,
            starved=self._starved,
        )
        self._deadlines = {kind: settings.deadline(kind) for kind in ReferenceKind}

    # A claim counts an attempt and starts the row's lease, so a row is claimed only once it holds a
    # concurrency slot: waiting for one neither uses up attempts nor lets the lease run out.
    #
    # Round trips per batch of rows: one statement, committed by itself, leases the rows and reads,
    # joined, what their requests need (job, item, words); the marks of the rows sent within a short
    # window share one statement and one Redis publish (_Settlements).

    async def flush_marks(self) -> None:
        """Mark the rows delivered so far now rather than at the end of their window, and every row
        delivered from now on at once: for a stopping worker, so that its rows are not sent again."""
        await self._settlements.flush()

    async def relay(self, message_id: UUID) -> RelayOutcome:
        """Relay one row now, if it is due and nobody else holds it."""
        await self._acquire_slot()
        try:
            claimed = await self._claim(1, message_id)
            if not claimed:
                return RelayOutcome(message_id, "not_claimed")
            return await self._deliver(claimed[0])
        finally:
            self._slots.release()

    async def sweep(self, batch_size: int = 100) -> list[RelayOutcome]:
        """Relay due rows (the fast path's misses, retries due), as many as there are free slots; the
        rest wait, unclaimed, for the next round."""
        batch = await self.dispatch_due(batch_size, wait_for_slot=False)
        return await batch.outcomes

    async def dispatch_due(self, limit: int, *, wait_for_slot: bool = True) -> DispatchRound:
        """Claim up to ``limit`` due rows, no more than there are free slots (waiting for a first one
        unless told not to), and start delivering them; the round's ``outcomes`` complete when every
        row is settled. The claim is done when this returns, so a caller can claim the next batch."""
        held = 0
        if wait_for_slot:
            await self._acquire_slot()
            held = 1
        claimed: list[ClaimedDispatch] = []
        self._reserving += 1
        try:
            while held < limit and not self._slots.locked():
                await self._slots.acquire()  # returns at once: a slot is free
                held += 1
            if held:
                claimed = await self._claim(held)
        finally:
            self._reserving -= 1
            for _ in range(held - len(claimed)):
                self._slots.release()
        outcomes = asyncio.gather(*(self._deliver_and_release(work) for work in claimed))
        return DispatchRound(len(claimed), outcomes)

    async def _acquire_slot(self) -> None:
        """A free slot, or the first one freed; marks waiting in their window hold slots, so they are
        written at once rather than making the claim wait for them."""
        if self._starved():
            self._settlements.write_now()
        await self._slots.acquire()

    def _starved(self) -> bool:
        """No slot is free because dispatches in flight and marks waiting in their window hold them all;
        a claim holding the free ones for the rows it is claiming is not that (it gives back what it
        does not claim), and a mark arriving meanwhile must not cut its batch's window short for it."""
        return self._slots.locked() and not self._reserving

    async def _claim(self, limit: int, message_id: UUID | None = None) -> list[ClaimedDispatch]:
        return await self._claims.claim_for_dispatch(
            self._clock.now(), self._settings.relay_lease, limit, message_id
        )

    async def _deliver_and_release(self, work: ClaimedDispatch) -> RelayOutcome:
        try:
            return await self._deliver(work)
        finally:
            self._slots.release()

    async def _deliver(self, work: ClaimedDispatch) -> RelayOutcome:
        """Dispatch the row within the upload's trace: the time since the row was written (retries
        included) as one span, then the dispatch."""
        message = work.message
        attributes: tracing.Attributes = {"job.id": str(message.job_id), "outbox.attempt": message.attempts}
        tracing.record(
            "outbox.wait",
            parent=message.traceparent,
            start=message.created_at,
            end=self._clock.now(),
            attributes=attributes,
        )
        with tracing.span("analysis.dispatch", parent=message.traceparent, attributes=attributes):
            done = await self._dispatch(work)
        if isinstance(done, RelayOutcome):
            return done
        # The mark is outside the dispatch's span: it may wait for others to share its statement
        # (_Settlements), and the span would otherwise last that window longer than the request did.
        await self._settlements.settle(message, done)
        return RelayOutcome(message.id, "skipped" if done == "removed" else done)

    async def _dispatch(self, work: ClaimedDispatch) -> str | RelayOutcome:
        """Build and send the request within the dispatch budget, which ends before the lease does.

        Returns how the row is to be marked ("sent", "skipped", "removed"), or the outcome of a failed
        dispatch, which is already handled."""
        message = work.message
        budget = self._settings.dispatch_budget.total_seconds()
        try:
            async with asyncio.timeout(budget):
                request = await self._build_request(work)
                if request is not None:
                    await self._dispatcher.dispatch(request)
        except _ReferenceRemovedError:
            return "removed"
        except DispatchError as error:
            return await self._handle_failure(message, error)
        except TimeoutError:
            late = DispatchError(
                f"no answer within the dispatch budget of {budget:g} s",
                retryable=True,
                cause=RetryReason.TIMED_OUT,
            )
            return await self._handle_failure(message, late)
        return "sent" if request is not None else "skipped"

    async def _build_request(self, work: ClaimedDispatch) -> AnalysisRequest | None:
        job, reference = work.job, work.reference
        if job is None or job.status.is_terminal or job.recording is None:
            return None
        if reference is None:
            raise _ReferenceRemovedError
        return await self._request(work.message.job_id, job, reference)

    async def _request(self, job_id: UUID, job: DispatchJob, reference: DispatchReference) -> AnalysisRequest:
        assert job.recording is not None
        ttl = int(self._settings.presigned_url_ttl.total_seconds())
        recording_url = await self._storage.presigned_get_url(job.recording.key, ttl)
        reference_url = await self._storage.presigned_get_url(reference.audio.key, ttl)
        return AnalysisRequest(
            job_id=job_id,
            kind=job.kind,
            recording_url=recording_url.url,
            recording_content_type=job.recording.content_type,
            reference_url=reference_url.url,
            reference_content_type=reference.audio.content_type,
            callback_url=self._settings.callback_url,
            deadline=self._clock.now() + self._settings.deadline(job.kind),
            text=reference.text,
            words=[
                {
                    "index": word.index,
                    "text": word.text,
                    "start": word.start,
                    "end": word.end,
                    "reference_features": dict(word.reference_features) if word.reference_features else None,
                }
                for word in reference.words
            ],
            feature_config_version=reference.feature_config_version,
        )

    async def _settle(self, settled: list[tuple[OutboxMessage, str]]) -> None:
        """Mark the rows sent (or settled without a request) and record their jobs dispatched: one
        statement committed by itself (``OutboxClaims.mark_dispatched``). Rows whose item was removed
        fail their jobs in a transaction of their own (rare). Rows and jobs are locked in id order, so
        two batches cannot deadlock."""
        now = self._clock.now()
        marks = {message.id: _SETTLED_ERRORS[outcome] for message, outcome in settled if outcome != "removed"}
        if marks:
            sent = {message.id for message, outcome in settled if outcome == "sent"}
            await self._claims.mark_dispatched(marks, sent, now, self._deadlines)
        removed = [message for message, outcome in settled if outcome == "removed"]
        if removed:
            await self._fail_removed(removed, now)

    async def _fail_removed(self, removed: list[OutboxMessage], now: datetime) -> None:
        async with self._uow() as uow:
            marked = await uow.outbox.mark_sent(
                {message.id: _SETTLED_ERRORS["removed"] for message in removed}, now
            )
            jobs = await uow.jobs.get_many_for_update(
                [message.job_id for message in removed if message.id in marked]
            )
            for job in jobs:
                job.fail(FailureCode.REFERENCE_REMOVED, REFERENCE_REMOVED_REASON, now)
            await uow.jobs.save_many(jobs)
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
