"""A user's feed places (``feed_sequence``, the live feed's cursor) are 1, 2, ... per user without gaps,
and become visible in order even when two transactions store events of the same user concurrently."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import uuid4

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.analysis.jobs import Job
from domain.catalog import ReferenceKind
from tests.integration.persistence.conftest import UnitOfWorkFactory
from tests.integration.persistence.test_unit_of_work_events import HOUR, NOW, RECORDING, a_queued_job, add
from tests.support.pipeline_fakes import RecordingPublisher


def another_job(job: Job) -> Job:
    """A second job of the same user."""
    return Job.create(uuid4(), job.user_id, ReferenceKind.TOKEN, job.item_id, NOW, RECORDING, deadline=HOUR)


async def test_each_users_events_are_numbered_from_one_across_their_jobs_and_published_so(
    unit_of_work: UnitOfWorkFactory, publisher: RecordingPublisher
) -> None:
    alice_first, bob_first = await a_queued_job(unit_of_work), await a_queued_job(unit_of_work)
    alice_second = another_job(alice_first)
    async with unit_of_work() as uow:
        for job in (alice_first, bob_first, alice_second):
            await uow.jobs.add(job)
        alice_first.mark_dispatched(NOW, timedelta(minutes=2))
        await uow.jobs.save(alice_first)
        await uow.commit()

    async with unit_of_work() as uow:
        alice = await uow.job_events.list_for_user_after(alice_first.user_id, 0)
        bob = await uow.job_events.list_for_user_after(bob_first.user_id, 0)
        alice_after_two = await uow.job_events.list_for_user_after(alice_first.user_id, 2)
    assert [(e.job_id, e.sequence, e.feed_sequence) for e in alice] == [
        (alice_first.id, 1, 1),
        (alice_first.id, 2, 2),
        (alice_second.id, 1, 3),
    ]
    assert [(e.job_id, e.feed_sequence) for e in bob] == [(bob_first.id, 1)]
    assert alice_after_two == alice[2:]
    [published] = publisher.batches
    assert sorted((e.user_id, e.feed_sequence) for e in published) == sorted(
        (e.user_id, e.feed_sequence) for e in alice + bob
    )


async def test_a_later_transaction_waits_for_an_earlier_ones_commit_so_no_reader_skips_a_place(
    unit_of_work: UnitOfWorkFactory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    first = await a_queued_job(unit_of_work)
    await add(unit_of_work, first)  # place 1
    slow, quick = another_job(first), another_job(first)

    async with unit_of_work() as holding:
        await holding.jobs.add(slow)
        # What commit() does first: store the events (taking place 2), and hold the transaction open.
        await holding.job_events.append(list(slow.pending_events))
        racing = asyncio.create_task(add(unit_of_work, quick))
        await _until_waiting_for_a_lock(session_factory)
        async with unit_of_work() as reader:
            while_held = await reader.job_events.list_for_user_after(first.user_id, 1)
        await holding.session.commit()
    await racing

    async with unit_of_work() as reader:
        after = await reader.job_events.list_for_user_after(first.user_id, 0)
    assert while_held == []  # place 3 was not visible before place 2
    assert [(e.job_id, e.feed_sequence) for e in after] == [(first.id, 1), (slow.id, 2), (quick.id, 3)]


async def _until_waiting_for_a_lock(session_factory: async_sessionmaker[AsyncSession]) -> None:
    """Until a session of this database waits for a lock (a new transaction each look: pg_stat_activity
    is a snapshot per transaction)."""
    async with asyncio.timeout(10.0):
        while True:
            async with session_factory() as session:
                waiting = await session.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
            if waiting:
                return
            await asyncio.sleep(0.02)
