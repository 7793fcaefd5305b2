"""An outbox row keeps the trace context of the upload that wrote it, for the relay that claims it."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from domain.analysis.outbox import OutboxMessage
from domain.catalog import ReferenceKind
from tests.integration.persistence.conftest import UnitOfWorkFactory
from tests.integration.persistence.test_pipeline_statistics import NOW, store_jobs

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
LEASE = timedelta(seconds=30)


async def test_a_claimed_row_carries_the_traceparent_it_was_written_with(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    traced_job, untraced_job = await store_jobs(
        unit_of_work, (ReferenceKind.TOKEN, True), (ReferenceKind.TOKEN, True)
    )
    traced = OutboxMessage(uuid4(), traced_job.id, NOW, traceparent=TRACEPARENT)
    untraced = OutboxMessage(uuid4(), untraced_job.id, NOW)
    async with unit_of_work() as uow:
        await uow.outbox.add(traced)
        await uow.outbox.add(untraced)
        await uow.commit()

    async with unit_of_work() as uow:
        claimed = [await uow.outbox.claim(message.id, NOW, LEASE) for message in (traced, untraced)]
        await uow.commit()

    assert [message.traceparent if message else "not claimed" for message in claimed] == [TRACEPARENT, None]
