"""Accepting a recording: validate it, store it, and queue its analysis in one transaction."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from uuid import UUID

from application.analysis.settings import PipelineSettings
from application.ports.analysis import RelayQueue
from application.ports.audio import AudioInspector, InspectedAudio
from application.ports.persistence import UnitOfWork, UnitOfWorkFactory
from application.ports.storage import ObjectStorage, PresignedUrl
from application.ports.system import Clock, IdGenerator
from domain.accounts import Principal
from domain.analysis.jobs import Job, JobStatus, Recording
from domain.analysis.outbox import OutboxMessage
from domain.audio import AudioFormat, AudioRejectedError, AudioTooLargeError
from domain.catalog import ReferenceKind
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from shared_kernel import tracing

logger = logging.getLogger(__name__)


def recording_key(job_id: UUID, audio_format: AudioFormat | None = None) -> str:
    """The stored object's key is derived from the job id, so an orphan can be traced to its job."""
    return f"recordings/{job_id}" + (f".{audio_format.extension}" if audio_format else ".upload")


def job_id_of_key(key: str) -> UUID | None:
    name = key.removeprefix("recordings/").split(".", 1)[0]
    try:
        return UUID(name)
    except ValueError:
        return None


def require_audio_content_type(content_type: str) -> None:
    """What a direct upload declares it will store: audio, or a container browsers record audio in."""
    if not content_type.startswith("audio/") and content_type not in {
        "video/webm",
        "video/mp4",
        "video/3gpp",
    }:
        raise InvalidInputError("content_type", "must be an audio media type such as audio/webm")


@dataclass(frozen=True, slots=True)
class DirectUpload:
    job: Job
    upload: PresignedUrl


class RecordingUploads:
    """Uploads through the API (multipart) and direct uploads to storage (presigned PUT, then submit)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        storage: ObjectStorage,
        inspector: AudioInspector,
        queue: RelayQueue,
        clock: Clock,
        ids: IdGenerator,
        settings: PipelineSettings,
    ) -> None:
        self._uow = uow
        self._storage = storage
        self._inspector = inspector
        self._queue = queue
        self._clock = clock
        self._ids = ids
        self._settings = settings

    async def upload(self, principal: Principal, kind: ReferenceKind, item_id: UUID, data: bytes) -> Job:
        """Validate the recording, store it and queue its analysis; answer at once with the job."""
        inspected = await self._inspect(kind, data)
        job_id = self._ids.new_id()
        key = recording_key(job_id, inspected.format)
        await self._storage.put(key, data, inspected.format.content_type)
        recording = Recording(key, inspected.format.content_type, inspected.duration_seconds, inspected.size)
        try:
            # The reference check shares the job's transaction (one connection and commit per upload, not
            # two); an upload for a missing item costs a stored object, deleted right here.
            job, outbox_id = await self._create_queued_job(principal, kind, item_id, job_id, recording)
        except BaseException:
            await self._storage.delete(key)
            raise
        await self._enqueue_relay(outbox_id)
        return job

    async def start_direct_upload(
        self, principal: Principal, kind: ReferenceKind, item_id: UUID, content_type: str, size_bytes: int
    ) -> DirectUpload:
        """Create a job waiting for its recording, with a presigned PUT URL for the client.

        The URL is signed for exactly ``size_bytes``, which must be within the kind's limit: the store
        refuses any other body, so nobody stores more through it than an upload may hold.
        """
        require_audio_content_type(content_type)
        limits = self._settings.limits(kind)
        if size_bytes > limits.max_bytes:
            raise AudioTooLargeError(limits.max_bytes, size_bytes)
        now = self._clock.now()
        job = Job.create(
            self._ids.new_id(),
            principal.user_id,
            kind,
            item_id,
            now,
            recording=None,
            deadline=self._settings.upload_deadline,
        )
        async with self._uow() as uow:
            await require_reference(uow, kind, item_id)
            await uow.jobs.add(job)
            await uow.commit()
        ttl = int(self._settings.direct_upload_ttl.total_seconds())
        upload = await self._storage.presigned_put_url(
            recording_key(job.id), content_type, ttl, content_length=size_bytes
        )
        return DirectUpload(job, upload)

    async def submit(self, principal: Principal, job_id: UUID) -> Job:
        """Validate what the client stored through the presigned URL and queue the job.

        A rejected recording is deleted and the job keeps waiting, so the client may upload again.
        """
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
        if job is None or job.user_id != principal.user_id:
            raise NotFoundError("job", job_id)
        if job.status is not JobStatus.AWAITING_UPLOAD:
            raise ConflictError(
                f"the job is {job.status.value}; only a job awaiting its upload can be submitted"
            )
        key = recording_key(job_id)
        stored = await self._storage.stat(key)
        if stored is None:
            raise ConflictError("nothing was uploaded yet: PUT the recording to the upload URL first")
        limits = self._settings.limits(job.kind)
        try:
            if stored.size > limits.max_bytes:
                raise AudioTooLargeError(limits.max_bytes, stored.size)
            data = await self._storage.get(key)
            inspected = await self._inspect(job.kind, data)
        except AudioRejectedError:
            await self._storage.delete(key)
            raise
        # What gets analysed is the bytes just checked, under a key no presigned URL names: the upload URL
        # stays valid until it expires, and an object swapped in after the check must not be analysed.
        final_key = recording_key(job_id, inspected.format)
        await self._storage.put(final_key, data, inspected.format.content_type)
        await self._storage.delete(key)
        recording = Recording(
            final_key, inspected.format.content_type, inspected.duration_seconds, inspected.size
        )
        outbox = OutboxMessage(
            self._ids.new_id(), job_id, self._clock.now(), traceparent=tracing.current_traceparent()
        )
        async with self._uow() as uow:
            locked = await uow.jobs.get_for_update(job_id)
            if locked is None:
                raise NotFoundError("job", job_id)
            locked.attach_recording(recording, self._clock.now(), self._settings.queue_deadline)
            await uow.jobs.save(locked)
            await uow.outbox.add(outbox)
            await uow.commit()
        await self._enqueue_relay(outbox.id)
        return locked

    async def _inspect(self, kind: ReferenceKind, data: bytes) -> InspectedAudio:
        return await asyncio.to_thread(self._inspector.inspect, data, self._settings.limits(kind))

    async def _create_queued_job(
        self, principal: Principal, kind: ReferenceKind, item_id: UUID, job_id: UUID, recording: Recording
    ) -> tuple[Job, UUID]:
        now = self._clock.now()
        job = Job.create(
            job_id, principal.user_id, kind, item_id, now, recording, deadline=self._settings.queue_deadline
        )
        outbox = OutboxMessage(self._ids.new_id(), job_id, now, traceparent=tracing.current_traceparent())
        async with self._uow() as uow:
            await require_reference(uow, kind, item_id)
            await uow.jobs.add(job)
            await uow.outbox.add(outbox)
            await uow.commit()
        return job, outbox.id

    async def _enqueue_relay(self, outbox_id: UUID) -> None:
        try:
            await self._queue.enqueue_relay(outbox_id)
        except Exception:
            logger.warning(
                "relay enqueue failed; the sweep will relay outbox row %s", outbox_id, exc_info=True
            )


async def require_reference(uow: UnitOfWork, kind: ReferenceKind, item_id: UUID) -> None:
    """404 unless an item of this kind (an item of the other kind is not found either), 409 unless its
    reference audio is stored; one narrow query, not the item with its words."""
    state = await uow.items.reference_state(item_id)
    if state is None or state[0] is not kind:
        raise NotFoundError(kind.value, item_id)
    if not state[1]:
        raise ConflictError(f"the {kind.value} has no reference audio yet, so it cannot be analysed")
