"""Periodic housekeeping: overdue jobs, orphaned recordings, old outbox rows, webhook ids and idempotency keys."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from application.analysis.settings import PipelineSettings
from application.analysis.uploads import job_id_of_key, recording_key
from application.ports.idempotency import IdempotencyStore
from application.ports.persistence import UnitOfWorkFactory
from application.ports.storage import ObjectStorage
from application.ports.system import Clock
from domain.analysis.jobs import FailureCode, JobStatus

logger = logging.getLogger(__name__)
ORPHAN_PAGE_SIZE = 1000  # S3 lists at most 1,000 keys a page
TIMED_OUT_REASON = "The analysis took too long and was stopped. Please try again."
UPLOAD_EXPIRED_REASON = "The recording was not uploaded in time. Please record it again."
_TIMED_OUT = (FailureCode.TIMED_OUT, TIMED_OUT_REASON)
_EXPIRED = (FailureCode.UPLOAD_EXPIRED, UPLOAD_EXPIRED_REASON)


@dataclass(frozen=True, slots=True)
class Pruned:
    outbox_rows: int
    webhook_ids: int
    idempotency_keys: int


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
        """Jobs still live at their deadline fail: a direct upload never submitted expires (and its
        object is deleted), any other job times out."""
        now = self._clock.now()
        async with self._uow() as uow:
            overdue = await uow.jobs.overdue(now, limit)
        failed = 0
        for job_id in overdue:
            async with self._uow() as uow:
                job = await uow.jobs.get_for_update(job_id)
                if job is None or not job.is_overdue(now):
                    continue
                expired = job.status is JobStatus.AWAITING_UPLOAD
                code, reason = _EXPIRED if expired else _TIMED_OUT
                if job.fail(code, reason, now):
                    await uow.jobs.save(job)
                    await uow.commit()
                    failed += 1
            if expired:
                await self._storage.delete(recording_key(job_id))
        return failed

    async def remove_orphaned_recordings(self, page_size: int = ORPHAN_PAGE_SIZE) -> int:
        """Delete stored recordings whose job row never committed, once they are older than the grace.

        The key carries the job id, a UUIDv7 whose first 48 bits are its creation time in ms. Storage
        and the database are read a page at a time: one query per page keeps within Postgres'
        32,767 bind parameters however many recordings there are.
        """
        cutoff = self._clock.now() - self._settings.orphan_grace
        removed = 0
        async for keys in self._storage.key_pages("recordings/", page_size):
            candidates: dict[str, UUID] = {}
            for key in keys:
                job_id = job_id_of_key(key)
                if job_id is not None and uuid7_time(job_id) < cutoff:
                    candidates[key] = job_id
            if not candidates:
                continue
            async with self._uow() as uow:
                existing = await uow.jobs.existing(list(set(candidates.values())))
            for key, job_id in candidates.items():
                if job_id not in existing:
                    await self._storage.delete(key)
                    removed += 1
        if removed:
            logger.info("removed %s orphaned recordings", removed)
        return removed

    async def prune(self) -> Pruned:
        """Drop relayed outbox rows and webhook ids past their retention, and expired idempotency keys."""
        now = self._clock.now()
        async with self._uow() as uow:
            outbox = await uow.outbox.prune_sent(now - self._settings.outbox_retention)
            inbox = await uow.inbox.prune(now - self._settings.webhook_inbox_retention)
            await uow.commit()
        keys = await self._idempotency.prune(now)
        return Pruned(outbox_rows=outbox, webhook_ids=inbox, idempotency_keys=keys)
