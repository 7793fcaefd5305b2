"""Resumable uploads of large recordings: the parts go straight to storage, in any order, retried at
will; the client asks which arrived, completes the upload, then submits the job like any direct upload."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID

from application.analysis.settings import PipelineSettings
from application.analysis.uploads import recording_key, require_audio_content_type, require_reference
from application.ports.persistence import UnitOfWorkFactory
from application.ports.storage import (
    InvalidPartError,
    MultipartStorage,
    MultipartUploadNotFoundError,
    PresignedUrl,
)
from application.ports.system import Clock, IdGenerator
from domain.accounts import Principal
from domain.analysis.jobs import Job, JobStatus
from domain.analysis.multipart import ArrivedPart, MultipartUpload, PartPlan
from domain.catalog import ReferenceKind
from domain.errors import ConflictError, NotFoundError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PartTarget:
    """Where part ``number`` goes: a URL signed for exactly ``size`` bytes."""

    number: int
    size: int
    upload: PresignedUrl


@dataclass(frozen=True, slots=True)
class ResumableUpload:
    """An upload's state: the parts that arrived whole and fresh URLs for the ones still to send."""

    job: Job
    upload: MultipartUpload
    arrived: list[ArrivedPart]
    to_send: list[PartTarget]


class ResumableUploads:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        storage: MultipartStorage,
        clock: Clock,
        ids: IdGenerator,
        settings: PipelineSettings,
    ) -> None:
        self._uow = uow
        self._storage = storage
        self._clock = clock
        self._ids = ids
        self._settings = settings

    async def start(
        self,
        principal: Principal,
        kind: ReferenceKind,
        item_id: UUID,
        content_type: str,
        size_bytes: int,
        part_size_bytes: int,
    ) -> ResumableUpload:
        """Create a job awaiting its recording and an upload of ``size_bytes`` in parts of
        ``part_size_bytes`` (the last one holds the rest), with a presigned URL for every part."""
        require_audio_content_type(content_type)
        plan = PartPlan.of(size_bytes, part_size_bytes, self._settings.limits(kind).max_bytes)
        async with self._uow() as uow:
            await require_reference(uow, kind, item_id)
        now = self._clock.now()
        job = Job.create(
            self._ids.new_id(),
            principal.user_id,
            kind,
            item_id,
            now,
            recording=None,
            deadline=self._settings.multipart_upload_deadline,
        )
        key = recording_key(job.id)
        upload_id = await self._storage.create_multipart_upload(key, content_type)
        upload = MultipartUpload(job.id, upload_id, key, content_type, plan, now)
        try:
            async with self._uow() as uow:
                await uow.jobs.add(job)
                await uow.multipart_uploads.add(upload)
                await uow.commit()
        except BaseException:
            await self._storage.abort_multipart_upload(key, upload_id)
            raise
        return ResumableUpload(job, upload, [], await self._targets(upload, list(plan.numbers)))

    async def progress(self, principal: Principal, job_id: UUID) -> ResumableUpload:
        """The parts that arrived whole (number, size, ETag) and new URLs for the others: after a lost
        connection the client sends only those. A completed upload lists nothing more."""
        job, upload = await self._owned(principal, job_id)
        if upload.completed_at is not None:
            return ResumableUpload(job, upload, [], [])
        arrived = await self._arrived(upload)
        whole = [part for part in arrived if part.size == upload.plan.size_of(part.number)]
        done = {part.number for part in whole}
        missing = [number for number in upload.plan.numbers if number not in done]
        return ResumableUpload(job, upload, whole, await self._targets(upload, missing))

    async def part_target(self, principal: Principal, job_id: UUID, number: int) -> PartTarget:
        """A fresh URL for one part, to retry it once its URL expired (422 outside 1..part count)."""
        _, upload = await self._owned(principal, job_id)
        upload.require_open()
        upload.plan.size_of(number)
        return (await self._targets(upload, [number]))[0]

    async def complete(self, principal: Principal, job_id: UUID) -> ResumableUpload:
        """Assemble the parts into the recording, once every part arrived with its declared size
        (409 naming the missing or wrong ones otherwise; 409 when completed already)."""
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
            if job is None or job.user_id != principal.user_id:
                raise NotFoundError("upload", job_id)
            # Locked while the store assembles: a second completion waits, then finds it completed.
            upload = await uow.multipart_uploads.get_for_update(job_id)
            if upload is None:
                raise NotFoundError("upload", job_id)
            upload.require_open()
            if job.status is not JobStatus.AWAITING_UPLOAD:
                raise ConflictError(f"the job is {job.status.value}; its upload can no longer be completed")
            await self._assemble(upload)
            upload.complete(self._clock.now())
            await uow.multipart_uploads.save(upload)
            await uow.commit()
        return ResumableUpload(job, upload, [], [])

    async def remove_finished(self, limit: int = 100) -> int:
        """Abort the uploads of jobs that ended (expired, cancelled, or analysed) and forget them all."""
        async with self._uow() as uow:
            finished = await uow.multipart_uploads.of_finished_jobs(limit)
        for upload in finished:
            if upload.completed_at is None:
                await self._storage.abort_multipart_upload(upload.key, upload.storage_upload_id)
            async with self._uow() as uow:
                await uow.multipart_uploads.remove(upload.job_id)
                await uow.commit()
        if finished:
            logger.info("removed %s finished multipart uploads", len(finished))
        return len(finished)

    async def _assemble(self, upload: MultipartUpload) -> None:
        try:
            arrived = await self._storage.list_parts(upload.key, upload.storage_upload_id)
        except MultipartUploadNotFoundError:
            # The store completed it before our commit failed: the object is there, whole.
            stored = await self._storage.stat(upload.key)
            if stored is not None and stored.size == upload.plan.total_bytes:
                return
            raise ConflictError("the upload is no longer open; start a new one") from None
        parts = upload.parts_to_assemble(arrived)
        try:
            await self._storage.complete_multipart_upload(upload.key, upload.storage_upload_id, parts)
        except InvalidPartError:
            raise ConflictError("a part changed while the upload was completed; complete it again") from None

    async def _owned(self, principal: Principal, job_id: UUID) -> tuple[Job, MultipartUpload]:
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
            upload = await uow.multipart_uploads.get(job_id)
        if job is None or upload is None or job.user_id != principal.user_id:
            raise NotFoundError("upload", job_id)
        return job, upload

    async def _arrived(self, upload: MultipartUpload) -> list[ArrivedPart]:
        try:
            return await self._storage.list_parts(upload.key, upload.storage_upload_id)
        except MultipartUploadNotFoundError:
            raise ConflictError("the upload is no longer open; start a new one") from None

    async def _targets(self, upload: MultipartUpload, numbers: list[int]) -> list[PartTarget]:
        ttl = int(self._settings.direct_upload_ttl.total_seconds())
        return [
            PartTarget(
                number,
                upload.plan.size_of(number),
                await self._storage.presigned_part_url(
                    upload.key, upload.storage_upload_id, number, upload.plan.size_of(number), ttl
                ),
            )
            for number in numbers
        ]
