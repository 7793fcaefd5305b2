"""OutboxRelay against real Postgres and the stub analysis server over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from application.analysis.relay import DEFAULT_CONCURRENCY, REFERENCE_REMOVED_REASON
from domain.accounts import Principal, Role
from domain.analysis.jobs import FailureCode, JobStatus
from domain.catalog import ReferenceKind
from entrypoints.bootstrap import Container
from tests.support.pipeline import Catalog, QueueJob, eventually, load_job, load_message
from tests.support.stub_analysis_server import StubAnalysisServer


async def test_an_accepted_request_marks_the_row_sent(
    container: Container, queue_job: QueueJob, stub: StubAnalysisServer
) -> None:
    queued = await queue_job()

    outcome = await container.relay.relay(queued.outbox_id)

    assert outcome.outcome == "sent"
    assert (await load_message(container, queued.outbox_id)).sent_at is not None


async def test_an_accepted_request_dispatches_the_job_with_its_deadline(
    container: Container, queue_job: QueueJob, stub: StubAnalysisServer
) -> None:
    queued = await queue_job()
    before = datetime.now(UTC)

    await container.relay.relay(queued.outbox_id)

    job = await load_job(container, queued.job_id)
    assert job.status is JobStatus.DISPATCHED
    assert job.deadline_at is not None
    expected = before + container.pipeline.token_deadline
    assert expected <= job.deadline_at <= expected + timedelta(seconds=5)


async def test_a_503_keeps_the_row_and_retries_it_after_a_backoff(
    container: Container, queue_job: QueueJob, stub: StubAnalysisServer
) -> None:
    queued = await queue_job()
    stub.answer(503)
    before = datetime.now(UTC)

    outcome = await container.relay.relay(queued.outbox_id)

    message = await load_message(container, queued.outbox_id)
    assert outcome.outcome == "retry"
    assert message.sent_at is None
    assert message.attempts == 1
    assert "503" in (message.last_error or "")
    # The first retry waits between half and all of the base delay (full jitter).
    base = container.pipeline.retry.base_delay
    assert message.next_attempt_at is not None
    assert before + base / 2 <= message.next_attempt_at <= datetime.now(UTC) + base
    assert (await load_job(container, queued.job_id)).status is JobStatus.QUEUED


async def test_a_429_waits_at_least_the_servers_retry_after(
    container: Container, queue_job: QueueJob, stub: StubAnalysisServer
) -> None:
    queued = await queue_job()
    stub.answer(429, retry_after="7")
    before = datetime.now(UTC)

    await container.relay.relay(queued.outbox_id)

    message = await load_message(container, queued.outbox_id)
    assert message.next_attempt_at is not None
    assert message.next_attempt_at >= before + timedelta(seconds=7)


async def test_a_400_fails_the_job_at_once_with_a_readable_reason(
    container: Container, queue_job: QueueJob, stub: StubAnalysisServer
) -> None:
    queued = await queue_job()
    stub.answer(400)

    outcome = await container.relay.relay(queued.outbox_id)

    job = await load_job(container, queued.job_id)
    assert outcome.outcome == "failed"
    assert (job.status, job.failure_code) == (JobStatus.FAILED, FailureCode.DISPATCH_REJECTED.value)
    assert job.failure_reason == "The analysis service refused this recording. Please try another recording."


async def test_a_rejected_row_is_settled_and_never_sent_again(
    container: Container, queue_job: QueueJob, stub: StubAnalysisServer
) -> None:
    queued = await queue_job()
    stub.answer(400, times=1)
    await container.relay.relay(queued.outbox_id)

    await container.relay.sweep()

    assert (await load_message(container, queued.outbox_id)).sent_at is not None
    assert stub.deliveries(queued.job_id) == 1


async def _due_now(container: Container, outbox_id: UUID) -> None:
    """Bring the row's next attempt forward: the backoff itself is unit-tested on a fake clock."""
    async with container.unit_of_work() as uow:
        message = await uow.outbox.get_for_update(outbox_id)
        assert message is not None
        message.next_attempt_at = datetime.now(UTC)
        await uow.outbox.save(message)
        await uow.commit()


async def test_the_job_fails_as_dispatch_exhausted_after_the_last_attempt(
    make_container: Callable[..., Awaitable[Container]], queue_job: QueueJob, stub: StubAnalysisServer
) -> None:
    container = await make_container(analysis_dispatch_max_attempts=3)
    queued = await queue_job()
    stub.answer(503)

    outcomes = []
    for _ in range(3):
        outcomes += [o.outcome for o in await container.relay.sweep()]
        await _due_now(container, queued.outbox_id)

    assert outcomes == ["retry", "retry", "failed"]
    job = await load_job(container, queued.job_id)
    assert job.failure_code == FailureCode.DISPATCH_EXHAUSTED.value
    assert "after 3 attempts" in (job.failure_reason or "")
    assert stub.deliveries(queued.job_id) == 3


async def test_a_row_leased_by_a_crashed_relay_is_left_alone_until_its_lease_ends(
    container: Container, queue_job: QueueJob, stub: StubAnalysisServer
) -> None:
    queued = await queue_job()
    async with container.unit_of_work() as uow:  # a relay that claimed the row, then died
        assert await uow.outbox.claim(queued.outbox_id, datetime.now(UTC), timedelta(seconds=30))
        await uow.commit()

    fast_path = await container.relay.relay(queued.outbox_id)
    swept = await container.relay.sweep()

    assert (fast_path.outcome, swept, stub.deliveries(queued.job_id)) == ("not_claimed", [], 0)


async def test_a_row_leased_by_a_crashed_relay_is_retried_once_its_lease_ends(
    container: Container, queue_job: QueueJob, stub: StubAnalysisServer
) -> None:
    claimed_at = datetime.now(UTC) - timedelta(seconds=31)
    queued = await queue_job(created_at=claimed_at)
    async with container.unit_of_work() as uow:  # a relay that died 31 s ago, holding a 30 s lease
        assert await uow.outbox.claim(queued.outbox_id, claimed_at, timedelta(seconds=30))
        await uow.commit()

    outcome = await container.relay.relay(queued.outbox_id)

    assert outcome.outcome == "sent"
    assert (await load_message(container, queued.outbox_id)).attempts == 2
    assert (await load_job(container, queued.job_id)).status is JobStatus.DISPATCHED


async def test_concurrent_sweeps_of_two_workers_never_send_a_row_twice(
    make_container: Callable[..., Awaitable[Container]], queue_job: QueueJob, stub: StubAnalysisServer
) -> None:
    workers = [await make_container(), await make_container()]
    queued = [await queue_job() for _ in range(40)]
    stub.respond_after(0.05)

    async def sweep_until_done(relay_container: Container) -> None:
        while await relay_container.relay.sweep(batch_size=7):
            pass

    await asyncio.gather(*(sweep_until_done(w) for w in workers for _ in range(3)))

    assert stub.delivery_counts() == {str(q.job_id): 1 for q in queued}


async def test_a_job_whose_token_was_deleted_before_dispatch_fails_with_a_readable_reason(
    container: Container, catalog: Catalog, queue_job: QueueJob, stub: StubAnalysisServer
) -> None:
    queued = await queue_job()
    await container.catalog_admin.delete_item(
        Principal(uuid4(), Role.ADMIN), ReferenceKind.TOKEN, catalog.token_id
    )

    outcome = await container.relay.relay(queued.outbox_id)

    job = await load_job(container, queued.job_id)
    assert (outcome.outcome, job.status, job.failure_code, job.failure_reason) == (
        "skipped",
        JobStatus.FAILED,
        FailureCode.REFERENCE_REMOVED.value,
        REFERENCE_REMOVED_REASON,
    )
    assert (await load_message(container, queued.outbox_id)).sent_at is not None
    assert stub.deliveries(queued.job_id) == 0


async def test_a_sweep_claims_no_row_while_every_dispatch_slot_is_busy(
    container: Container, queue_job: QueueJob, stub: StubAnalysisServer
) -> None:
    busy = [await queue_job() for _ in range(DEFAULT_CONCURRENCY)]
    waiting = await queue_job()
    stub.respond_after(1.5)
    in_flight = [asyncio.create_task(container.relay.relay(queued.outbox_id)) for queued in busy]

    async def every_slot_sending() -> bool:
        return len(stub.requests) == DEFAULT_CONCURRENCY

    await eventually(every_slot_sending, within=10, what="every slot sending")
    outcomes = await container.relay.sweep()

    # A claim counts an attempt and starts the lease: a row that would only wait for a slot stays unclaimed.
    assert (outcomes, (await load_message(container, waiting.outbox_id)).attempts) == ([], 0)
    assert {outcome.outcome for outcome in await asyncio.gather(*in_flight)} == {"sent"}


async def test_a_server_answering_byte_by_byte_is_given_up_before_the_lease_ends(
    make_container: Callable[..., Awaitable[Container]], queue_job: QueueJob
) -> None:
    # Every byte comes well within httpx's per-phase timeouts; the whole answer takes about 9 s.
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):  # the relay hangs up when its budget ends
            await reader.readuntil(b"\r\n\r\n")
            for byte in b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n":
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.2)
        writer.close()

    server = await asyncio.start_server(trickle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    lease = 3.0
    container = await make_container(
        analysis_token_server_url=f"http://127.0.0.1:{port}", analysis_relay_lease_seconds=lease
    )
    queued = await queue_job()
    started = time.monotonic()
    try:
        outcome = await container.relay.relay(queued.outbox_id)
    finally:
        server.close()
    took = time.monotonic() - started

    message = await load_message(container, queued.outbox_id)
    assert (outcome.outcome, message.attempts, message.sent_at) == ("retry", 1, None)
    assert took < lease
    assert "dispatch budget" in (message.last_error or "")
