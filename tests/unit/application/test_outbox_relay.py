"""OutboxRelay on fakes: lease, retry schedule, final failure, skipped rows and the events it leaves."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from tests.support.pipeline_fakes import ScriptedDispatcher
from tests.unit.application.pipeline_world import NOW, SETTINGS, World

from application.analysis.relay import OutboxRelay
from application.ports.analysis import AnalysisRequest, DispatchError
from domain.analysis.jobs import EventType, FailureCode, JobStatus, RetryReason
from domain.catalog import ReferenceKind
from domain.errors import ConflictError
from shared_kernel import tracing

UNAVAILABLE = DispatchError("503 from the analysis server", retryable=True)
REFUSED = DispatchError("422 from the analysis server", retryable=False)


@pytest.fixture
def world() -> World:
    return World()


def relay_for(world: World, dispatcher: ScriptedDispatcher) -> OutboxRelay:
    return OutboxRelay(world.database, world.database, world.storage, dispatcher, world.clock, world.settings)


async def test_a_relayed_row_sends_one_request_and_marks_the_job_dispatched_with_its_deadline(
    world: World,
) -> None:
    job_id, message_id = await world.queue_job()
    dispatcher = ScriptedDispatcher()

    outcome = await relay_for(world, dispatcher).relay(message_id)

    assert outcome.outcome == "sent"
    [request] = dispatcher.requests
    assert (request.job_id, request.kind, request.text) == (job_id, ReferenceKind.TOKEN, "Hello there")
    assert request.callback_url == SETTINGS.callback_url
    assert request.deadline == NOW + SETTINGS.token_deadline
    assert request.recording_url.startswith(f"memory://recordings/{job_id}.wav")
    assert world.message(message_id).sent_at == NOW
    assert world.job(job_id).status is JobStatus.DISPATCHED
    assert world.job(job_id).deadline_at == NOW + SETTINGS.token_deadline


async def test_a_script_job_sends_the_scripts_words_features_and_its_own_deadline(world: World) -> None:
    _, message_id = await world.queue_job(world.add_script(), kind=ReferenceKind.SCRIPT)
    dispatcher = ScriptedDispatcher()

    await relay_for(world, dispatcher).relay(message_id)

    [request] = dispatcher.requests
    assert (request.kind, request.text, request.feature_config_version) == (
        ReferenceKind.SCRIPT,
        "hello world",
        "f/1",
    )
    assert request.words == [
        {"index": 0, "text": "hello", "start": 0.0, "end": 0.4, "reference_features": {"mfcc": [[1.0]]}},
        {"index": 1, "text": "world", "start": 0.5, "end": 0.9, "reference_features": None},
    ]
    assert request.deadline == NOW + SETTINGS.script_deadline


async def test_the_dispatched_event_is_stored_and_published_after_the_queued_one(world: World) -> None:
    job_id, message_id = await world.queue_job()

    await relay_for(world, ScriptedDispatcher()).relay(message_id)

    assert world.stored_events(job_id) == [EventType.QUEUED, EventType.DISPATCHED]
    assert world.published(job_id) == [EventType.QUEUED, EventType.DISPATCHED]


async def test_a_sent_row_is_not_relayed_again(world: World) -> None:
    _, message_id = await world.queue_job()
    dispatcher = ScriptedDispatcher()
    relay = relay_for(world, dispatcher)
    await relay.relay(message_id)

    world.clock.advance(timedelta(hours=1))
    again = await relay.relay(message_id)

    assert again.outcome == "not_claimed"
    assert len(dispatcher.requests) == 1


async def test_a_leased_row_is_claimed_again_only_when_its_lease_ends(world: World) -> None:
    """A worker that claimed the row and died leaves it leased; another relay waits out the lease."""
    _, message_id = await world.queue_job()
    async with world.database() as uow:
        assert await uow.outbox.claim(message_id, NOW, SETTINGS.relay_lease) is not None
        await uow.commit()
    relay = relay_for(world, ScriptedDispatcher())

    world.clock.advance(SETTINGS.relay_lease - timedelta(seconds=1))
    during = await relay.relay(message_id)
    world.clock.advance(timedelta(seconds=1))
    after = await relay.relay(message_id)

    assert (during.outcome, after.outcome) == ("not_claimed", "sent")
    assert world.message(message_id).attempts == 2


async def test_a_retryable_failure_backs_off_exponentially_with_jitter(world: World) -> None:
    job_id, message_id = await world.queue_job()
    relay = relay_for(world, ScriptedDispatcher(UNAVAILABLE, UNAVAILABLE))
    delays: list[timedelta] = []

    for _ in range(2):
        [outcome] = await relay.sweep()
        assert outcome.outcome == "retry"
        due = world.message(message_id).next_attempt_at
        assert due is not None
        delays.append(due - world.clock.now())
        world.clock.advance(delays[-1])
    [last] = await relay.sweep()

    base = SETTINGS.retry.base_delay
    assert base / 2 <= delays[0] <= base
    assert base <= delays[1] <= base * 2
    assert last.outcome == "sent"
    assert world.message(message_id).attempts == 3
    assert world.job(job_id).status is JobStatus.DISPATCHED


async def test_a_row_waiting_for_its_retry_is_not_swept_early(world: World) -> None:
    _, message_id = await world.queue_job()
    relay = relay_for(world, ScriptedDispatcher(UNAVAILABLE))
    await relay.sweep()
    due = world.message(message_id).next_attempt_at
    assert due is not None

    world.clock.advance(due - NOW - timedelta(milliseconds=1))

    assert await relay.sweep() == []


async def test_a_retryable_failure_keeps_the_job_queued_and_publishes_why_it_waits(world: World) -> None:
    job_id, message_id = await world.queue_job()
    refused = DispatchError(
        "connection failed to analysis.internal:8100", retryable=True, cause=RetryReason.UNREACHABLE
    )

    await relay_for(world, ScriptedDispatcher(refused)).relay(message_id)

    assert world.job(job_id).status is JobStatus.QUEUED
    assert world.message(message_id).last_error == refused.reason
    assert world.message(message_id).sent_at is None
    assert world.stored_events(job_id) == [EventType.QUEUED, EventType.RETRYING]
    assert world.published(job_id) == [EventType.QUEUED, EventType.RETRYING]
    retrying = world.tables.events_of(job_id)[-1]
    due = world.message(message_id).next_attempt_at
    assert due is not None
    assert retrying.data == {
        "status": "queued",
        "stage": "queued",
        "attempt": 1,
        "reason": "unreachable",
        "next_attempt_at": due.isoformat(),
        "retry_in_seconds": round((due - NOW).total_seconds(), 1),
    }
    assert "analysis.internal" not in str(retrying.data), "no internal host names on a user's stream"


async def test_a_retry_after_longer_than_the_backoff_is_honoured(world: World) -> None:
    _, message_id = await world.queue_job()
    busy = DispatchError("429", retryable=True, retry_after=timedelta(seconds=20))

    await relay_for(world, ScriptedDispatcher(busy)).relay(message_id)

    assert world.message(message_id).next_attempt_at == NOW + timedelta(seconds=20)


def test_the_backoff_never_exceeds_the_maximum_delay() -> None:
    policy = SETTINGS.retry
    assert all(policy.delay(attempt) <= policy.max_delay for attempt in range(1, 20))


async def test_the_last_allowed_attempt_failing_fails_the_job_as_exhausted(world: World) -> None:
    job_id, message_id = await world.queue_job()
    dispatcher = ScriptedDispatcher(*[UNAVAILABLE] * SETTINGS.retry.max_attempts)
    relay = relay_for(world, dispatcher)

    outcomes = []
    for _ in range(SETTINGS.retry.max_attempts):
        outcomes += [o.outcome for o in await relay.sweep()]
        world.clock.advance(SETTINGS.retry.max_delay)

    assert outcomes == ["retry", "retry", "failed"]
    assert len(dispatcher.requests) == SETTINGS.retry.max_attempts
    job = world.job(job_id)
    assert (job.status, job.failure_code) == (JobStatus.FAILED, FailureCode.DISPATCH_EXHAUSTED.value)
    assert "after 3 attempts" in (job.failure_reason or "")
    assert world.message(message_id).sent_at is not None
    retrying = [EventType.RETRYING] * (SETTINGS.retry.max_attempts - 1)
    assert world.published(job_id) == [EventType.QUEUED, *retrying, EventType.FAILED]
    assert [event.data["attempt"] for event in world.tables.events_of(job_id)[1:-1]] == [1, 2]
    assert await relay.sweep() == []


async def test_a_refused_request_fails_the_job_at_once(world: World) -> None:
    job_id, message_id = await world.queue_job()

    outcome = await relay_for(world, ScriptedDispatcher(REFUSED)).relay(message_id)

    assert outcome.outcome == "failed"
    assert world.job(job_id).failure_code == FailureCode.DISPATCH_REJECTED.value
    assert world.message(message_id).attempts == 1
    assert world.published(job_id) == [EventType.QUEUED, EventType.FAILED]


async def test_a_job_cancelled_before_its_relay_is_skipped_without_a_request(world: World) -> None:
    job_id, message_id = await world.queue_job()
    await world.change_job(job_id, lambda job: job.cancel(NOW))
    dispatcher = ScriptedDispatcher()

    outcome = await relay_for(world, dispatcher).relay(message_id)

    assert outcome.outcome == "skipped"
    assert dispatcher.requests == []
    assert world.message(message_id).sent_at == NOW
    assert world.message(message_id).last_error == "job no longer needs analysis"
    assert world.job(job_id).status is JobStatus.CANCELLED


async def test_a_target_without_reference_audio_is_skipped(world: World) -> None:
    _, message_id = await world.queue_job(world.add_token(reference=False))
    dispatcher = ScriptedDispatcher()

    outcome = await relay_for(world, dispatcher).relay(message_id)

    assert (outcome.outcome, dispatcher.requests) == ("skipped", [])


async def test_the_sweep_relays_every_due_row_and_leaves_the_others(world: World) -> None:
    due = [await world.queue_job() for _ in range(2)]
    _, later = await world.queue_job(due=NOW + timedelta(minutes=1))

    outcomes = await relay_for(world, ScriptedDispatcher()).sweep()

    assert sorted(o.message_id for o in outcomes) == sorted(message_id for _, message_id in due)
    assert {o.outcome for o in outcomes} == {"sent"}
    assert world.message(later).attempts == 0


class SettledMeanwhile:
    """A relay whose lease ran out while it waited: another relay settles the row during the request."""

    def __init__(self, world: World, outcome: DispatchError | None) -> None:
        self._world, self._outcome = world, outcome

    async def dispatch(self, request: AnalysisRequest) -> None:
        async with self._world.database() as uow:
            for message in self._world.tables.outbox.values():
                settled = await uow.outbox.get_for_update(message.id)
                assert settled is not None
                settled.sent_at = NOW
                await uow.outbox.save(settled)
            await uow.commit()
        if self._outcome is not None:
            raise self._outcome


@pytest.mark.parametrize("answer", [None, UNAVAILABLE, REFUSED])
async def test_a_row_settled_by_another_relay_meanwhile_is_left_as_it_is(
    world: World, answer: DispatchError | None
) -> None:
    job_id, message_id = await world.queue_job()

    await OutboxRelay(
        world.database, world.database, world.storage, SettledMeanwhile(world, answer), world.clock, SETTINGS
    ).relay(message_id)

    assert world.job(job_id).status is JobStatus.QUEUED
    assert world.message(message_id).last_error is None
    assert world.published(job_id) == [EventType.QUEUED]


async def test_a_job_reported_started_before_the_send_was_recorded_still_gets_its_deadline(
    world: World,
) -> None:
    job_id, message_id = await world.queue_job()
    await world.change_job(job_id, lambda job: job.start(NOW))

    await relay_for(world, ScriptedDispatcher()).relay(message_id)

    job = world.job(job_id)
    assert (job.status, job.deadline_at) == (JobStatus.PROCESSING, NOW + SETTINGS.token_deadline)
    assert world.stored_events(job_id) == [EventType.QUEUED, EventType.STARTED]


async def test_a_relayed_row_costs_two_transactions_claim_with_reads_and_mark(world: World) -> None:
    _, message_id = await world.queue_job()
    before = world.database.commits

    await relay_for(world, ScriptedDispatcher()).relay(message_id)

    assert world.database.commits - before == 2


async def test_rows_relayed_at_once_share_the_transaction_that_marks_them_sent(world: World) -> None:
    queued = [await world.queue_job() for _ in range(8)]
    relay = relay_for(world, ScriptedDispatcher())
    before = world.database.commits

    outcomes = await asyncio.gather(*(relay.relay(message_id) for _, message_id in queued))

    assert [o.outcome for o in outcomes] == ["sent"] * 8
    assert all(world.job(job_id).status is JobStatus.DISPATCHED for job_id, _ in queued)
    # Eight claims, and the eight marks in fewer transactions than rows (group commit).
    assert world.database.commits - before < 8 + 8
    assert world.database.commits - before >= 8 + 1


async def test_a_sweep_claims_reads_and_marks_its_batch_in_two_transactions(world: World) -> None:
    queued = [await world.queue_job() for _ in range(5)]
    before = world.database.commits

    outcomes = await relay_for(world, ScriptedDispatcher()).sweep(10)

    assert sorted(o.message_id for o in outcomes) == sorted(message_id for _, message_id in queued)
    assert world.database.commits - before == 2


class CommitFailsAfterDispatch(ScriptedDispatcher):
    def __init__(self, world: World, failures: int) -> None:
        super().__init__()
        self.world = world
        self.failures = failures

    async def dispatch(self, request: AnalysisRequest) -> None:
        await super().dispatch(request)
        self.world.database.failing_commits = self.failures


async def test_a_mark_whose_transaction_fails_twice_fails_the_relay_and_leaves_the_row_leased(
    world: World,
) -> None:
    job_id, message_id = await world.queue_job()

    with pytest.raises(ConflictError):
        await relay_for(world, CommitFailsAfterDispatch(world, failures=2)).relay(message_id)

    assert world.message(message_id).sent_at is None
    assert world.message(message_id).next_attempt_at == NOW + SETTINGS.relay_lease
    assert world.job(job_id).status is JobStatus.QUEUED


async def test_a_mark_whose_transaction_fails_once_is_tried_again_and_marks_the_row(world: World) -> None:
    job_id, message_id = await world.queue_job()

    outcome = await relay_for(world, CommitFailsAfterDispatch(world, failures=1)).relay(message_id)

    assert outcome.outcome == "sent"
    assert world.message(message_id).sent_at == NOW
    assert world.job(job_id).status is JobStatus.DISPATCHED


def relay_with_window(
    world: World, dispatcher: ScriptedDispatcher, seconds: float, slots: int = 16
) -> OutboxRelay:
    settings = replace(world.settings, relay_mark_window=timedelta(seconds=seconds))
    return OutboxRelay(
        world.database, world.database, world.storage, dispatcher, world.clock, settings, concurrency=slots
    )


class SignallingDispatcher(ScriptedDispatcher):
    """Accepts every request and lets a test wait until a number of them were sent."""

    def __init__(self) -> None:
        super().__init__()
        self._sent = asyncio.Condition()

    async def dispatch(self, request: AnalysisRequest) -> None:
        await super().dispatch(request)
        async with self._sent:
            self._sent.notify_all()

    async def until_sent(self, count: int) -> None:
        async with asyncio.timeout(5), self._sent:
            await self._sent.wait_for(lambda: len(self.requests) >= count)


async def test_rows_delivered_within_the_mark_window_share_one_mark_and_every_one_is_marked(
    world: World,
) -> None:
    queued = [await world.queue_job() for _ in range(5)]
    dispatcher = SignallingDispatcher()
    relay = relay_with_window(world, dispatcher, seconds=0.5)
    before = world.database.commits

    relays = []
    for count, (_, message_id) in enumerate(queued, start=1):
        relays.append(asyncio.create_task(relay.relay(message_id)))
        # One after the other, as wake-ups at 20-50 uploads/s come: each delivered before the next.
        await dispatcher.until_sent(count)
    outcomes = await asyncio.gather(*relays)

    assert [o.outcome for o in outcomes] == ["sent"] * 5
    assert all(world.message(message_id).sent_at == NOW for _, message_id in queued)
    assert all(world.job(job_id).status is JobStatus.DISPATCHED for job_id, _ in queued)
    assert all(world.published(job_id) == [EventType.QUEUED, EventType.DISPATCHED] for job_id, _ in queued)
    # Five claims, one mark.
    assert world.database.commits - before == 5 + 1


async def test_a_full_batch_of_marks_is_written_without_waiting_out_the_window(world: World) -> None:
    queued = [await world.queue_job() for _ in range(4)]
    relay = relay_with_window(world, ScriptedDispatcher(), seconds=60, slots=4)

    async with asyncio.timeout(5):
        outcomes = await asyncio.gather(*(relay.relay(message_id) for _, message_id in queued))

    assert [o.outcome for o in outcomes] == ["sent"] * 4
    assert all(world.message(message_id).sent_at == NOW for _, message_id in queued)


async def test_flushing_marks_the_rows_delivered_at_once_and_later_ones_without_a_window(
    world: World,
) -> None:
    (first_job, first), (second_job, second) = [await world.queue_job() for _ in range(2)]
    dispatcher = SignallingDispatcher()
    relay = relay_with_window(world, dispatcher, seconds=60)
    waiting = asyncio.create_task(relay.relay(first))
    await dispatcher.until_sent(1)
    assert world.message(first).sent_at is None

    async with asyncio.timeout(5):
        await relay.flush_marks()
        assert world.message(first).sent_at == NOW
        assert (await waiting).outcome == "sent"
        # A stopping worker's rows still in flight are marked as soon as they are delivered.
        assert (await relay.relay(second)).outcome == "sent"

    assert world.message(second).sent_at == NOW
    assert {world.job(first_job).status, world.job(second_job).status} == {JobStatus.DISPATCHED}


async def test_a_relay_gone_between_sending_and_its_mark_leaves_the_row_to_be_sent_again(
    world: World,
) -> None:
    job_id, message_id = await world.queue_job()
    dispatcher = SignallingDispatcher()
    gone = asyncio.create_task(relay_with_window(world, dispatcher, seconds=60).relay(message_id))
    await dispatcher.until_sent(1)
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task():
            task.cancel()  # the process dies: the mark waiting in its window never runs
    with contextlib.suppress(asyncio.CancelledError):
        await gone
    assert world.message(message_id).sent_at is None
    assert world.job(job_id).status is JobStatus.QUEUED

    world.clock.advance(SETTINGS.relay_lease)
    outcomes = await relay_for(world, dispatcher).sweep(10)

    assert [o.outcome for o in outcomes] == ["sent"]
    assert [request.job_id for request in dispatcher.requests] == [job_id, job_id]
    assert world.message(message_id).sent_at is not None
    assert world.job(job_id).status is JobStatus.DISPATCHED


class HeldDispatcher(SignallingDispatcher):
    """Holds the request of one job until released; accepts the others at once."""

    def __init__(self, held: UUID) -> None:
        super().__init__()
        self.held = held
        self.release = asyncio.Event()

    async def dispatch(self, request: AnalysisRequest) -> None:
        await super().dispatch(request)
        if request.job_id == self.held:
            await self.release.wait()


async def test_marks_waiting_in_their_window_do_not_hold_back_a_claim_waiting_for_a_slot(
    world: World,
) -> None:
    (_, first), (held_job, held), (_, third) = [await world.queue_job() for _ in range(3)]
    dispatcher = HeldDispatcher(held_job)
    relay = relay_with_window(world, dispatcher, seconds=60, slots=2)
    marked = asyncio.create_task(relay.relay(first))
    await dispatcher.until_sent(1)
    in_flight = asyncio.create_task(relay.relay(held))
    await dispatcher.until_sent(2)
    # Both slots taken: one by a mark waiting in its window, one by a request in flight.

    async with asyncio.timeout(5):
        assert (await relay.relay(third)).outcome == "sent"
        assert (await marked).outcome == "sent"

    assert world.message(third).sent_at == NOW
    dispatcher.release.set()
    await dispatcher.until_sent(3)
    async with asyncio.timeout(5):
        await relay.flush_marks()  # the last one's mark waits its window: a slot is free again
        assert (await in_flight).outcome == "sent"


class GatedClaims:
    """The world's claims, held at a gate once ``gated``: a claim in progress, for as long as a test wants."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.gated = False
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()

    async def claim_for_dispatch(self, *args: Any) -> Any:
        if self.gated:
            self.entered.set()
            await self.gate.wait()
        return await self._inner.claim_for_dispatch(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def test_a_claim_holding_the_free_slots_does_not_cut_a_waiting_marks_window_short(
    world: World,
) -> None:
    (_, first), (held_job, held) = [await world.queue_job() for _ in range(2)]
    dispatcher = HeldDispatcher(held_job)
    claims = GatedClaims(world.database)
    settings = replace(world.settings, relay_mark_window=timedelta(seconds=60))
    relay = OutboxRelay(
        world.database, claims, world.storage, dispatcher, world.clock, settings, concurrency=4
    )
    marked = asyncio.create_task(relay.relay(first))
    await dispatcher.until_sent(1)  # its mark waits in the window
    in_flight = asyncio.create_task(relay.relay(held))
    await dispatcher.until_sent(2)
    claims.gated = True
    sweeping = asyncio.create_task(relay.dispatch_due(10, wait_for_slot=False))
    async with asyncio.timeout(5):
        await claims.entered.wait()  # the claim holds the two free slots: none looks free

    dispatcher.release.set()  # the second request ends and its mark joins the first's
    await asyncio.sleep(0.05)

    assert world.message(first).sent_at is None
    assert world.message(held).sent_at is None
    claims.gate.set()
    async with asyncio.timeout(5):
        assert (await sweeping).claimed == 0
        await relay.flush_marks()
        assert [(await marked).outcome, (await in_flight).outcome] == ["sent", "sent"]
    assert world.message(first).sent_at == NOW


class SpanLog:
    """A tracing backend that notes when the dispatch's span has ended."""

    def __init__(self) -> None:
        self.dispatch_ended = asyncio.Event()

    @contextlib.contextmanager
    def span(
        self, name: str, parent: object, start: object, kind: object, attributes: object
    ) -> Iterator[None]:
        try:
            yield
        finally:
            if name == "analysis.dispatch":
                self.dispatch_ended.set()

    def record(self, *args: object) -> None:
        pass

    def traceparent(self) -> None:
        return None

    def ids(self) -> None:
        return None


async def test_the_dispatch_span_ends_with_the_request_not_with_the_mark_waiting_in_its_window(
    world: World,
) -> None:
    _, message_id = await world.queue_job()
    dispatcher = SignallingDispatcher()
    relay = relay_with_window(world, dispatcher, seconds=60)
    spans = SpanLog()
    tracing.install(spans)
    try:
        relaying = asyncio.create_task(relay.relay(message_id))
        await dispatcher.until_sent(1)
        async with asyncio.timeout(5):
            await spans.dispatch_ended.wait()
        assert world.message(message_id).sent_at is None  # the mark still waits for company

        async with asyncio.timeout(5):
            await relay.flush_marks()
            assert (await relaying).outcome == "sent"
    finally:
        tracing.install(None)
    assert world.message(message_id).sent_at == NOW
