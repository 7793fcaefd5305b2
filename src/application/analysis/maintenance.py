"""Periodic housekeeping: overdue jobs, orphaned recordings, old outbox rows and idempotency keys."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from uuid import UUID

from application.analysis.settings import PipelineSettings
from application.analysis.uploads import job_id_of_key
from application.ports.idempotency import IdempotencyStore
from application.ports.persistence import UnitOfWorkFactory
from application.ports.storage import ObjectStorage
from application.ports.system import Clock
from domain.analysis.jobs import FailureCode

logger = logging.getLogger(__name__)
TIMED_OUT_REASON = "The analysis took too long and was stopped. Please try again."


def uuid7_time(identifier: UUID) -> datetime:
    """Creation time of a UUIDv7: its first 48 bits count milliseconds since the epoch."""
    return datetime.fromtimestamp((identifier.int >> 80) / 1000, tz=UTC)


class Housekeeping:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        storage: ObjectStorage,
        idempotency: IdempotencyStore,
        clock: Clock,
        settings: PipelineSettings,
    ) -> None:
        self._uow = uow
        self._storage = storage
        self._idempotency = idempotency
        self._clock = clock
        self._settings = settings

    async def fail_overdue_jobs(self, limit: int = 100) -> int:
        """Jobs with no final webhook before their deadline fail as timed out."""
        now = self._clock.now()
        async with self._uow() as uow:
            overdue = await uow.jobs.overdue(now, limit)
        failed = 0
        for job_id in overdue:
            async with self._uow() as uow:
                job = await uow.jobs.get_for_update(job_id)
                if (
                    job is not None
                    and job.is_overdue(now)
                    and job.fail(FailureCode.TIMED_OUT, TIMED_OUT_REASON, now)
                ):
                    await uow.jobs.save(job)
                    await uow.commit()
                    failed += 1
        return failed

    async def remove_orphaned_recordings(self) -> int:
        """Delete stored recordings whose job row never committed, once they are older than the grace.

        The key carries the job id, a UUIDv7 whose first 48 bits are its creation time in ms.
        """
        cutoff = self._clock.now() - self._settings.orphan_grace
        candidates: dict[str, UUID] = {}
        for key in await self._storage.list_keys("recordings/"):
            job_id = job_id_of_key(key)
            if job_id is None:
                continue
            if uuid7_time(job_id) < cutoff:
                candidates[key] = job_id
        if not candidates:
            return 0
        async with self._uow() as uow:
            existing = await uow.jobs.existing(list(set(candidates.values())))
        removed = 0
        for key, job_id in candidates.items():
            if job_id not in existing:
                await self._storage.delete(key)
                removed += 1
        if removed:
            logger.info("removed %s orphaned recordings", removed)
        return removed

    async def prune(self) -> tuple[int, int]:
        """Drop relayed outbox rows past retention and expired idempotency keys."""
        now = self._clock.now()
        async with self._uow() as uow:
            outbox = await uow.outbox.prune_sent(now - self._settings.outbox_retention)
            await uow.commit()
        keys = await self._idempotency.prune(now)
        return outbox, keys
