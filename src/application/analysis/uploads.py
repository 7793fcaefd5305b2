"""Accepting a recording: validate it, store it, and queue its analysis in one transaction.

A recording whose bytes the same user already had analysed for the same item, against the same
reference and under the same feature version, is not analysed again: the new job is completed at once
from that job's result (queued -> completed, ``reused_from``), unless the client asks for a fresh
analysis (``reuse=False``). Only the user's own results are reused (docs/architecture.md, "Reusing
finished analyses").
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from uuid import UUID

from application.analysis.settings import PipelineSettings
from application.ports.analysis import RelayQueue
from application.ports.audio import AudioInspector, InspectedAudio
from application.ports.idempotency import IdempotencyReceipt
from application.ports.job_intake import JobIntake, ReuseQuery
from application.ports.persistence import UnitOfWork, UnitOfWorkFactory
from application.ports.storage import ObjectStorage, PresignedUrl, StoredObject
from application.ports.system import Clock, IdGenerator
from domain.accounts import Principal
from domain.analysis.jobs import AnalysisInputs, Job, JobStatus, Recording
from domain.analysis.outbox import OutboxMessage
from domain.audio import AudioFormat, AudioRejectedError, AudioTooLargeError, is_plain_pcm_wav
from domain.catalog import ReferenceKind
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from shared_kernel import tracing

logger = logging.getLogger(__name__)

# Uncompressed WAV recordings up to this size are checked on the event loop (see
# ``RecordingUploads._inspect``): 5 s of 22 kHz 16-bit WAV is 220 KB and checks in about 0.4 ms, 1 MB
# in about 1.2 ms. Compressed audio never is: 30 s of Opus is 76 KB and takes 45 ms to decode.
INLINE_INSPECT_MAX_BYTES = 1024 * 1024


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


async def _written(task: asyncio.Future[StoredObject]) -> bool:
    """Wait until the write ``task`` has finished, whatever its outcome, and say whether it succeeded. A
    write is not cancelled halfway (its thread would go on writing after the delete that follows); its
    error, if any, is not the one the failing caller raises."""
    await asyncio.wait({task})
    return not task.cancelled() and task.exception() is None


@dataclass(frozen=True, slots=True)
class DirectUpload:
    job: Job
    upload: PresignedUrl


class RecordingUploads:
    """Uploads through the API (multipart) and direct uploads to storage (presigned PUT, then submit)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        intake: JobIntake,
        storage: ObjectStorage,
        inspector: AudioInspector,
        queue: RelayQueue,
        clock: Clock,
        ids: IdGenerator,
        settings: PipelineSettings,
        feature_version: str,
    ) -> None:
        """``feature_version``: the version of the feature configuration analyses run under."""
        self._uow = uow
        self._intake = intake
        self._storage = storage
        self._inspector = inspector
        self._queue = queue
        self._clock = clock
        self._ids = ids
        self._settings = settings
        self._feature_version = feature_version

    async def upload(
        self,
        principal: Principal,
        kind: ReferenceKind,
        item_id: UUID,
        data: bytes,
        *,
        reuse: bool = True,
        receipt: IdempotencyReceipt[Job] | None = None,
        recording_sha256: str | None = None,
    ) -> Job:
        """Validate the recording, store it and queue its analysis (or complete it from an identical
        one's result, see the module doc); answer at once with the job.

        The database sees two round trips (``JobIntake``): the item's reference with any reusable
        analysis (and ``receipt``'s pending claim of its key, ``KeyTakenError`` when taken), then the
        job with its events, outbox row and ``receipt``'s response in one transaction. The recording
        is written to storage while the reference is read (the write, durable, is the upload's slowest
        step; neither needs the other), and is durable before the job's transaction; an upload refused
        after the write deletes it once the write has ended.

        ``recording_sha256``: the SHA-256 (hex) of ``data`` when the caller has computed it already."""
        inspected = await self._inspect(kind, data)
        sha256 = recording_sha256 or hashlib.sha256(data).hexdigest()
        query = ReuseQuery(principal.user_id, sha256, self._feature_version) if reuse else None
        job_id = self._ids.new_id()
        key = recording_key(job_id, inspected.format)
        storing = asyncio.ensure_future(self._storage.put(key, data, inspected.format.content_type))
        try:
            claim = receipt.pending_claim if receipt is not None else None
            reference = await self._intake.reference(item_id, query, claim)
            if receipt is not None and claim is not None:
                receipt.claimed()
            if reference is None or reference.kind is not kind:
                raise NotFoundError(kind.value, item_id)
            if reference.reference_version is None:
                raise ConflictError(f"the {kind.value} has no reference audio yet, so it cannot be analysed")
            await storing
        except BaseException:
            if await _written(storing):  # a write that failed left nothing to delete, and the store is
                await self._storage.delete(key)  # likely down: a delete would only double the wait
            raise
        inputs = AnalysisInputs(sha256, reference.reference_version, self._feature_version)
        recording = Recording(key, inspected.format.content_type, inspected.duration_seconds, inspected.size)
        try:
            job = Job.create(
                job_id, principal.user_id, kind, item_id, self._clock.now(), recording,
                deadline=self._settings.queue_deadline,
            )  # fmt: skip
            job.inputs = inputs
            source_id = reference.reusable.get(inputs.reference_version)
            source = await self._reusable_source(source_id) if source_id is not None else None
            outbox = None
            if source is not None:
                job.complete_from(source, self._clock.now())
                logger.info("job %s reuses the result of job %s", job.id, job.reused_from)
            else:
                outbox = OutboxMessage(
                    self._ids.new_id(), job.id, self._clock.now(), traceparent=tracing.current_traceparent()
                )
            await self._intake.accept(job, outbox, receipt)
        except BaseException:
            await self._storage.delete(key)
            raise
        if outbox is not None:
            await self._enqueue_relay(outbox.id)
        return job

    async def _reusable_source(self, job_id: UUID) -> Job | None:
        """The completed job whose result a new one reuses, with its words (None if it went meanwhile)."""
        async with self._uow() as uow:
            source = await uow.jobs.get(job_id)
        return source if source is not None and source.result is not None else None

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

    async def submit(self, principal: Principal, job_id: UUID, *, reuse: bool = True) -> Job:
        """Validate what the client stored through the presigned URL and queue the job (or complete it
        from an identical recording's result, see the module doc).

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
        async with self._uow() as uow:
            locked = await uow.jobs.get_for_update(job_id)
            if locked is None:
                raise NotFoundError("job", job_id)
            locked.attach_recording(recording, self._clock.now(), self._settings.queue_deadline)
            if locked.item_id is not None:
                locked.inputs = await self._inputs(uow, locked.kind, locked.item_id, data)
            await uow.jobs.save(locked)
            outbox_id = await self._analyse_or_reuse(uow, locked, reuse)
            await uow.commit()
        if outbox_id is not None:
            await self._enqueue_relay(outbox_id)
        return locked

    async def _inspect(self, kind: ReferenceKind, data: bytes) -> InspectedAudio:
        """Check ``data`` in a worker thread, unless it is a small uncompressed WAV: that checks in about
        a millisecond, less than the thread's hand-off and the GIL passing back and forth cost a loaded
        process; anything that may take longer must not hold the event loop."""
        limits = self._settings.limits(kind)
        if len(data) <= INLINE_INSPECT_MAX_BYTES and is_plain_pcm_wav(data):
            return self._inspector.inspect(data, limits)
        return await asyncio.to_thread(self._inspector.inspect, data, limits)

    async def _inputs(
        self, uow: UnitOfWork, kind: ReferenceKind, item_id: UUID, data: bytes
    ) -> AnalysisInputs | None:
        """What the analysis of ``data`` against the item is a function of; None when the item or its
        reference audio is gone (the analysis then fails on its own, and nothing is reused)."""
        item = await uow.items.get(item_id)
        reference = item.reference_version if item is not None and item.kind is kind else None
        if reference is None:
            return None
        return AnalysisInputs(hashlib.sha256(data).hexdigest(), reference, self._feature_version)

    async def _analyse_or_reuse(self, uow: UnitOfWork, job: Job, reuse: bool) -> UUID | None:
        """Complete the queued ``job`` from the user's completed analysis of the same inputs when there
        is one and ``reuse`` allows it (no outbox row: nothing is dispatched); otherwise add the outbox
        row that gets it analysed, and return its id."""
        source = None
        if reuse and job.inputs is not None and job.item_id is not None:
            source = await uow.jobs.find_reusable(job.user_id, job.kind, job.item_id, job.inputs)
        if source is not None:
            job.complete_from(source, self._clock.now())
            await uow.jobs.save(job)
            logger.info("job %s reuses the result of job %s", job.id, job.reused_from)
            return None
        outbox = OutboxMessage(
            self._ids.new_id(), job.id, self._clock.now(), traceparent=tracing.current_traceparent()
        )
        await uow.outbox.add(outbox)
        return outbox.id

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
