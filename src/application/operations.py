"""Operational statistics of the pipeline for dashboards: jobs by kind and status, the outbox backlog."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from application.ports.persistence import UnitOfWorkFactory
from application.ports.system import Clock
from domain.analysis.jobs import JobStatus
from domain.catalog import ReferenceKind


@dataclass(frozen=True, slots=True)
class PipelineSnapshot:
    taken_at: datetime
    jobs: dict[tuple[ReferenceKind, JobStatus], int]
    outbox_unsent: int
    oldest_unsent_age_seconds: float
    """Zero when nothing is waiting, so an alert on the age needs no special case for an empty outbox."""

    def job_count(self, kind: ReferenceKind, status: JobStatus) -> int:
        return self.jobs.get((kind, status), 0)


class PipelineStatistics:
    """Reads the figures in one short transaction: one grouped count over jobs, one over the outbox."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def snapshot(self) -> PipelineSnapshot:
        async with self._uow() as uow:
            jobs = await uow.jobs.count_by_kind_and_status()
            backlog = await uow.outbox.backlog()
        now = self._clock.now()
        oldest = backlog.oldest_created_at
        age = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
        return PipelineSnapshot(
            taken_at=now, jobs=jobs, outbox_unsent=backlog.unsent, oldest_unsent_age_seconds=age
        )
