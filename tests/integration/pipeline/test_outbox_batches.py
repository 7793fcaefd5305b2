"""The relay's batch statements against real Postgres: claiming rows with what their requests need,
marking many rows sent at once, locking many jobs; and the wake-up that makes a worker claim."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
from sqlalchemy import text

from adapters.persistence.job_repositories import SqlaOutboxClaims
from adapters.persistence.lease_holders import LOCK_NAMESPACE, ORPHANED
from domain.analysis.jobs import JobStatus
from domain.catalog import Word
from entrypoints.bootstrap import Container
from entrypoints.worker import RelayWakeLoop
from tests.support.pipeline import Catalog, QueueJob, eventually, load_message
from tests.support.stub_analysis_server import StubAnalysisServer

LEASE = timedelta(seconds=30)


def claims(container: Container) -> SqlaOutboxClaims:
    return container.outbox_claims


@contextlib.asynccontextmanager
async def another_worker(container: Container) -> AsyncIterator[SqlaOutboxClaims]:
    """The claims of another worker process: its own holder lock on its own connection."""
    other = SqlaOutboxClaims(container.claims_engine, container.publisher)
    try:
        yield other
    finally:
        await other.close()


async def test_a_dead_workers_leased_rows_are_claimed_at_once_a_live_ones_are_not(
    container: Container, queue_job: QueueJob
) -> None:
    of_the_dead, of_the_living = await queue_job(), await queue_job()
    now = datetime.now(UTC)
    async with another_worker(container) as living:
        async with another_worker(container) as dying:
            [claimed] = await dying.claim_for_dispatch(now, LEASE, 1, of_the_dead.outbox_id)
            assert claimed.message.id == of_the_dead.outbox_id
        [claimed] = await living.claim_for_dispatch(now, LEASE, 1, of_the_living.outbox_id)
        assert claimed.message.id == of_the_living.outbox_id
        # The dying worker's lock went with its connection; the living one's lock is held.

        taken = await claims(container).claim_for_dispatch(now + timedelta(seconds=1), LEASE, 10)

    assert [c.message.id for c in taken] == [of_the_dead.outbox_id]
    assert taken[0].message.attempts == 2


async def test_a_worker_whose_lock_connection_was_terminated_takes_its_lock_again(
    container: Container, queue_job: QueueJob
) -> None:
    first, second, third = await queue_job(), await queue_job(), await queue_job()
    now = datetime.now(UTC)
    async with another_worker(container) as worker:
        await worker.claim_for_dispatch(now, LEASE, 1, first.outbox_id)
        await _terminate_holder_sessions(container)
        await eventually(lambda: _holder_gone(container), 10.0, what="the lock released")

        # Whether or not the worker has noticed its connection closed, no row is leased by a dead holder.
        await worker.claim_for_dispatch(now, LEASE, 1, second.outbox_id)
        assert await _leased_by(container, second.outbox_id) in {None, *await _holder_ids(container)}
        await worker.claim_for_dispatch(now, LEASE, 1, third.outbox_id)

        [holder] = await _holder_ids(container)
        assert await _leased_by(container, third.outbox_id) == holder
        assert len(await _holder_sessions(container)) == 1


async def test_a_claim_by_a_holder_whose_lock_is_gone_unnoticed_keeps_the_plain_lease_and_retakes_it(
    container: Container, queue_job: QueueJob
) -> None:
    """The database dropped the lock's connection and the worker has not read the close yet: the rows
    it claims meanwhile must not look orphaned to other workers, or they would send them again."""
    first, second, third = await queue_job(), await queue_job(), await queue_job()
    now = datetime.now(UTC)
    async with another_worker(container) as worker:
        await worker.claim_for_dispatch(now, LEASE, 1, first.outbox_id)
        worker._holder._alive = lambda: True  # type: ignore[method-assign]  # it has not noticed
        await _terminate_holder_sessions(container)
        await eventually(lambda: _holder_gone(container), 10.0, what="the lock released")

        [claimed] = await worker.claim_for_dispatch(now, LEASE, 1, second.outbox_id)
        leased_by = await _leased_by(container, second.outbox_id)
        taken_by_another = await claims(container).claim_for_dispatch(now + timedelta(seconds=1), LEASE, 10)
        del worker._holder._alive  # type: ignore[attr-defined]
        await worker.claim_for_dispatch(now, LEASE, 1, third.outbox_id)

        retaken = await _leased_by(container, third.outbox_id)

        assert claimed.message.id == second.outbox_id
        assert leased_by is None
        assert second.outbox_id not in [c.message.id for c in taken_by_another]
        assert retaken in await _holder_ids(container)


async def test_a_lock_on_the_same_ids_in_another_database_does_not_keep_a_dead_holders_rows(
    container: Container, queue_job: QueueJob
) -> None:
    queued = await queue_job()
    now = datetime.now(UTC)
    async with another_worker(container) as dying:
        [claimed] = await dying.claim_for_dispatch(now, LEASE, 1, queued.outbox_id)
    holder = await _leased_by(container, claimed.message.id)
    assert holder is not None
    url = container.claims_engine.url.set(drivername="postgresql", database="postgres")
    elsewhere = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        assert await elsewhere.fetchval("SELECT pg_try_advisory_lock($1, $2)", LOCK_NAMESPACE, holder)

        taken = await claims(container).claim_for_dispatch(now + timedelta(seconds=1), LEASE, 10)
    finally:
        await elsewhere.close()

    assert [c.message.id for c in taken] == [queued.outbox_id]


async def test_a_worker_keeps_one_lock_session_across_its_claims(
    container: Container, queue_job: QueueJob
) -> None:
    """Were the lock taken again for each claim, another worker would see this one's rows as orphaned in
    between and send them a second time."""
    first, second = await queue_job(), await queue_job()
    now = datetime.now(UTC)
    async with another_worker(container) as worker:
        await worker.claim_for_dispatch(now, LEASE, 1, first.outbox_id)
        before = await _holder_sessions(container)
        await worker.claim_for_dispatch(now, LEASE, 1, second.outbox_id)

        assert await _holder_sessions(container) == before
        assert len(before) == 1


_THIS_DATABASES_HOLDERS = (
    "FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = CAST(:namespace AS oid)"
    " AND objsubid = 2 AND pid <> pg_backend_pid()"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


async def _holder_sessions(container: Container) -> list[int]:
    """The sessions holding a holder lock in this test run's database (other runs share the server)."""
    return await _holders(container, "pid")


async def _holder_ids(container: Container) -> list[int]:
    return await _holders(container, "CAST(objid AS bigint)")


async def _holders(container: Container, what: str) -> list[int]:
    async with container.claims_engine.connect() as connection:
        rows = await connection.execute(
            text(f"SELECT {what} {_THIS_DATABASES_HOLDERS}"), {"namespace": LOCK_NAMESPACE}
        )
        return sorted(row[0] for row in rows)


async def _terminate_holder_sessions(container: Container) -> None:
    async with container.claims_engine.connect() as connection:
        await connection.execute(
            text(f"SELECT pg_terminate_backend(pid) {_THIS_DATABASES_HOLDERS}"), {"namespace": LOCK_NAMESPACE}
        )


async def _leased_by(container: Container, outbox_id: UUID) -> int | None:
    async with container.claims_engine.connect() as connection:
        return await connection.scalar(text("SELECT leased_by FROM outbox WHERE id = :id"), {"id": outbox_id})


async def test_a_row_marked_for_a_retry_waits_for_it_though_its_holder_died(
    container: Container, queue_job: QueueJob
) -> None:
    queued = await queue_job()
    now = datetime.now(UTC)
    async with another_worker(container) as dying:
        await dying.claim_for_dispatch(now, LEASE, 1, queued.outbox_id)
        async with container.unit_of_work() as uow:
            stored = await uow.outbox.get(queued.outbox_id)
            assert stored is not None
            stored.next_attempt_at = now + timedelta(minutes=5)
            await uow.outbox.save(stored)
            await uow.commit()

    assert await claims(container).claim_for_dispatch(now + timedelta(seconds=1), LEASE, 10) == []


async def _holder_gone(container: Container) -> bool:
    return await _holder_sessions(container) == []


def test_the_orphan_condition_names_the_lock_namespace() -> None:
    assert f"classid = {LOCK_NAMESPACE}::oid" in ORPHANED


async def test_a_claim_answers_each_due_row_with_its_job_item_and_words(
    container: Container, catalog: Catalog, queue_job: QueueJob
) -> None:
    async with container.unit_of_work() as uow:
        item = await uow.items.get(catalog.token_id)
        assert item is not None
        item.words = [
            Word(0, "Hello", 0.0, 0.45, {"pitch": [1.5, 2.25]}),
            Word(1, "there", 0.5, 0.95),
        ]
        await uow.items.save(item)
        await uow.commit()
    first, second = await queue_job(), await queue_job()
    now = datetime.now(UTC)

    claimed = await claims(container).claim_for_dispatch(now, LEASE, 10)

    assert [c.message.id for c in claimed] == [first.outbox_id, second.outbox_id]
    work = claimed[0]
    assert (work.message.job_id, work.message.attempts) == (first.job_id, 1)
    assert work.job is not None
    assert work.job.status is JobStatus.QUEUED
    assert work.job.recording is not None
    assert work.job.recording.content_type == "audio/wav"
    assert work.reference is not None
    assert work.reference.text == "Hello there"
    assert work.reference.audio.key == item.reference_audio.key  # type: ignore[union-attr]
    assert work.reference.words == item.words
    assert (await load_message(container, first.outbox_id)).next_attempt_at == now + LEASE


async def test_a_claim_skips_rows_not_due_and_rows_another_relay_holds(
    container: Container, queue_job: QueueJob
) -> None:
    held, later, free = await queue_job(), await queue_job(), await queue_job()
    now = datetime.now(UTC)
    async with container.unit_of_work() as uow:
        stored = await uow.outbox.get(later.outbox_id)
        assert stored is not None
        stored.next_attempt_at = now + timedelta(minutes=5)
        await uow.outbox.save(stored)
        await uow.commit()

    async with container.unit_of_work() as other:
        assert await other.outbox.claim(held.outbox_id, now, LEASE)
        claimed = await claims(container).claim_for_dispatch(now, LEASE, 10)

    assert [c.message.id for c in claimed] == [free.outbox_id]


async def test_a_claim_answers_no_reference_once_the_item_is_gone(
    container: Container, catalog: Catalog, queue_job: QueueJob
) -> None:
    queued = await queue_job()
    async with container.unit_of_work() as uow:
        await uow.items.delete(catalog.token_id)
        await uow.commit()

    [work] = await claims(container).claim_for_dispatch(datetime.now(UTC), LEASE, 10, queued.outbox_id)

    assert work.job is not None
    assert work.reference is None


async def test_marking_sets_each_rows_error_and_skips_rows_already_sent(
    container: Container, queue_job: QueueJob
) -> None:
    sent, removed, already = await queue_job(), await queue_job(), await queue_job()
    now = datetime.now(UTC)
    async with container.unit_of_work() as uow:
        await uow.outbox.mark_sent({already.outbox_id: None}, now)
        await uow.commit()

    async with container.unit_of_work() as uow:
        marked = await uow.outbox.mark_sent(
            {sent.outbox_id: None, removed.outbox_id: "item removed", already.outbox_id: None},
            now + timedelta(seconds=1),
        )
        await uow.commit()

    assert marked == {sent.outbox_id: sent.job_id, removed.outbox_id: removed.job_id}
    assert (await load_message(container, removed.outbox_id)).last_error == "item removed"
    assert (await load_message(container, sent.outbox_id)).last_error is None
    assert (await load_message(container, already.outbox_id)).sent_at == now


async def test_jobs_are_loaded_for_update_together_in_id_order(
    container: Container, queue_job: QueueJob
) -> None:
    jobs = [await queue_job() for _ in range(3)]
    ids = [queued.job_id for queued in reversed(jobs)] + [uuid4()]

    async with container.unit_of_work() as uow:
        loaded = await uow.jobs.get_many_for_update(ids)

    assert [job.id for job in loaded] == sorted(queued.job_id for queued in jobs)


async def test_a_wake_up_makes_the_worker_claim_without_waiting_for_a_sweep(
    container: Container, queue_job: QueueJob, stub: StubAnalysisServer
) -> None:
    """No sweep runs here: only the wake-up can get the rows to the analysis server."""
    stopping = asyncio.Event()
    loop = RelayWakeLoop(container.relay, container.relay_wakeups, stopping)
    loop.start()
    try:
        queued = [await queue_job() for _ in range(3)]

        async def all_dispatched() -> bool:
            # A wake-up published before the loop subscribed is lost (by design): publish until served.
            await container.relay_wakeups.enqueue_relay(queued[-1].outbox_id)
            return all(stub.deliveries(job.job_id) == 1 for job in queued)

        await eventually(all_dispatched, within=20, what="dispatch after a wake-up")
    finally:
        with contextlib.suppress(Exception):
            await loop.stop(5)
    messages = [await load_message(container, job.outbox_id) for job in queued]
    assert all(message.sent_at is not None for message in messages)
