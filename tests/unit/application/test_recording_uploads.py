"""RecordingUploads on fakes: the job, its outbox row and its queued event commit together, the
queued event reaches live streams, and a rejected or failed upload leaves nothing behind."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from tests.support.pipeline_fakes import RecordingRelayQueue
from tests.unit.application.fakes import FakeInspector
from tests.unit.application.pipeline_world import OWNER, World

from application.analysis.uploads import INLINE_INSPECT_MAX_BYTES, RecordingUploads, recording_key
from application.ports.audio import InspectedAudio
from application.ports.idempotency import KeyClaimRequest, KeyState, KeyTakenError, StoredResponse
from application.ports.job_intake import IntakeReference, ReuseQuery
from application.ports.storage import StoredObject
from domain.accounts import Principal, Role
from domain.analysis.jobs import EventType, Job, JobStatus
from domain.audio import AudioFormat, AudioLimits, AudioTooLargeError, AudioTooLongError
from domain.catalog import ReferenceKind
from domain.errors import ConflictError, InvalidInputError, NotFoundError

TAKE = b"wav:1.5"
TOO_LONG = b"wav:600"


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def queue() -> RecordingRelayQueue:
    return RecordingRelayQueue()


@pytest.fixture
def uploads(world: World, queue: RecordingRelayQueue) -> RecordingUploads:
    return world.uploads(queue)


async def test_an_upload_stores_the_recording_and_queues_the_job_with_its_outbox_row(
    world: World, uploads: RecordingUploads, queue: RecordingRelayQueue
) -> None:
    job = await uploads.upload(OWNER, ReferenceKind.TOKEN, world.add_token(), TAKE)

    assert job.status is JobStatus.QUEUED
    assert list(world.storage.objects) == [recording_key(job.id, AudioFormat.WAV)]
    [message] = world.tables.outbox.values()
    assert message.job_id == job.id
    assert queue.enqueued == [message.id]
    assert world.stored_events(job.id) == [EventType.QUEUED]
    assert world.published(job.id) == [EventType.QUEUED]


async def test_a_lost_relay_enqueue_still_answers_with_the_job_and_leaves_the_row_for_the_sweep(
    world: World, uploads: RecordingUploads, queue: RecordingRelayQueue
) -> None:
    queue.fail = True

    job = await uploads.upload(OWNER, ReferenceKind.TOKEN, world.add_token(), TAKE)

    [message] = world.tables.outbox.values()
    assert (message.job_id, message.sent_at) == (job.id, None)


async def test_a_failed_commit_deletes_the_stored_recording_and_publishes_nothing(
    world: World, uploads: RecordingUploads, queue: RecordingRelayQueue
) -> None:
    token_id = world.add_token()
    world.database.fail_next_commit = True

    with pytest.raises(ConflictError):
        await uploads.upload(OWNER, ReferenceKind.TOKEN, token_id, TAKE)

    assert world.storage.objects == {}
    assert (world.tables.jobs, world.publisher.events, queue.enqueued) == ({}, [], [])


async def test_an_unknown_target_is_not_found_and_nothing_is_stored(
    world: World, uploads: RecordingUploads
) -> None:
    with pytest.raises(NotFoundError):
        await uploads.upload(OWNER, ReferenceKind.TOKEN, UUID(int=404), TAKE)
    assert world.storage.objects == {}


async def test_the_recording_is_written_while_the_reference_is_read(
    world: World, uploads: RecordingUploads, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each waits for the other to have started: done one after the other, the upload never ends.
    writing, reading = asyncio.Event(), asyncio.Event()
    put, reference = world.storage.put, world.intake.reference

    async def put_meanwhile(key: str, data: bytes, content_type: str) -> StoredObject:
        writing.set()
        await reading.wait()
        return await put(key, data, content_type)

    async def read_meanwhile(
        item_id: UUID, reuse: ReuseQuery | None = None, claim: KeyClaimRequest | None = None
    ) -> IntakeReference | None:
        reading.set()
        await writing.wait()
        return await reference(item_id, reuse, claim)

    monkeypatch.setattr(world.storage, "put", put_meanwhile)
    monkeypatch.setattr(world.intake, "reference", read_meanwhile)

    job = await asyncio.wait_for(uploads.upload(OWNER, ReferenceKind.TOKEN, world.add_token(), TAKE), 10)

    assert list(world.storage.objects) == [recording_key(job.id, AudioFormat.WAV)]
    assert world.stored_events(job.id) == [EventType.QUEUED]


async def test_an_unknown_target_deletes_the_recording_after_its_write_ended(
    world: World, uploads: RecordingUploads, monkeypatch: pytest.MonkeyPatch
) -> None:
    put = world.storage.put

    async def slow_put(key: str, data: bytes, content_type: str) -> StoredObject:
        for _ in range(20):  # still writing when the reference read has answered
            await asyncio.sleep(0)
        return await put(key, data, content_type)

    monkeypatch.setattr(world.storage, "put", slow_put)

    with pytest.raises(NotFoundError):
        await uploads.upload(OWNER, ReferenceKind.TOKEN, UUID(int=404), TAKE)
    for _ in range(40):  # a write still going on would land now
        await asyncio.sleep(0)
    assert world.storage.objects == {}


async def test_a_failed_write_is_the_uploads_error_and_nothing_is_deleted(
    world: World, uploads: RecordingUploads, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the store down the write fails; a delete would wait out the store's timeout a second time
    for an object that was never written (a stalled S3 doubled the 503's wait in CI)."""
    deleted: list[str] = []

    async def put_fails(key: str, data: bytes, content_type: str) -> StoredObject:
        raise ConnectionError("storage is down")

    async def delete(key: str) -> None:
        deleted.append(key)

    monkeypatch.setattr(world.storage, "put", put_fails)
    monkeypatch.setattr(world.storage, "delete", delete)

    with pytest.raises(ConnectionError, match="storage is down"):
        await uploads.upload(OWNER, ReferenceKind.TOKEN, world.add_token(), TAKE)
    assert deleted == []
    assert world.tables.jobs == {}


async def test_a_target_without_reference_audio_cannot_be_analysed(
    world: World, uploads: RecordingUploads
) -> None:
    with pytest.raises(ConflictError):
        await uploads.upload(OWNER, ReferenceKind.TOKEN, world.add_token(reference=False), TAKE)
    assert world.tables.jobs == {}


async def test_a_recording_over_the_limit_is_rejected_before_anything_is_stored(
    world: World, uploads: RecordingUploads
) -> None:
    with pytest.raises(AudioTooLongError):
        await uploads.upload(OWNER, ReferenceKind.TOKEN, world.add_token(), TOO_LONG)
    assert (world.storage.objects, world.tables.jobs) == ({}, {})


async def test_a_direct_upload_waits_for_its_recording_without_events_or_outbox_row(
    world: World, uploads: RecordingUploads
) -> None:
    started = await uploads.start_direct_upload(
        OWNER, ReferenceKind.TOKEN, world.add_token(), "audio/ogg", len(TAKE)
    )

    assert started.job.status is JobStatus.AWAITING_UPLOAD
    assert started.upload.method == "PUT"
    assert started.upload.url.startswith(f"memory://{recording_key(started.job.id)}")
    assert (world.tables.outbox, world.publisher.events) == ({}, [])


async def test_a_direct_upload_must_be_audio(world: World, uploads: RecordingUploads) -> None:
    with pytest.raises(InvalidInputError):
        await uploads.start_direct_upload(
            OWNER, ReferenceKind.TOKEN, world.add_token(), "application/pdf", len(TAKE)
        )


async def _waiting_job(world: World, uploads: RecordingUploads, recording: bytes | None = TAKE) -> UUID:
    started = await uploads.start_direct_upload(
        OWNER, ReferenceKind.TOKEN, world.add_token(), "audio/wav", len(TAKE)
    )
    if recording is not None:
        await world.storage.put(recording_key(started.job.id), recording, "audio/wav")
    return started.job.id


async def test_submitting_a_direct_upload_queues_it_and_publishes_queued_live(
    world: World, uploads: RecordingUploads, queue: RecordingRelayQueue
) -> None:
    job_id = await _waiting_job(world, uploads)

    job = await uploads.submit(OWNER, job_id)

    assert job.status is JobStatus.QUEUED
    [message] = world.tables.outbox.values()
    assert queue.enqueued == [message.id]
    assert world.stored_events(job_id) == [EventType.QUEUED]
    assert world.published(job_id) == [EventType.QUEUED]


async def test_submitting_before_the_recording_was_put_is_a_conflict(
    world: World, uploads: RecordingUploads
) -> None:
    job_id = await _waiting_job(world, uploads, recording=None)

    with pytest.raises(ConflictError, match="nothing was uploaded"):
        await uploads.submit(OWNER, job_id)
    assert world.job(job_id).status is JobStatus.AWAITING_UPLOAD


async def test_a_rejected_direct_upload_is_deleted_and_the_job_may_be_submitted_again(
    world: World, uploads: RecordingUploads
) -> None:
    job_id = await _waiting_job(world, uploads, recording=TOO_LONG)

    with pytest.raises(AudioTooLongError):
        await uploads.submit(OWNER, job_id)
    assert world.storage.objects == {}
    assert world.job(job_id).status is JobStatus.AWAITING_UPLOAD

    await world.storage.put(recording_key(job_id), TAKE, "audio/wav")
    assert (await uploads.submit(OWNER, job_id)).status is JobStatus.QUEUED


async def test_a_stored_object_over_the_byte_limit_is_refused_unread_and_deleted(
    world: World, uploads: RecordingUploads
) -> None:
    job_id = await _waiting_job(world, uploads, recording=None)
    oversized = b"wav:1" + bytes(world.settings.token_limits.max_bytes)
    await world.storage.put(recording_key(job_id), oversized, "audio/wav")

    with pytest.raises(AudioTooLargeError):
        await uploads.submit(OWNER, job_id)
    assert world.storage.objects == {}


async def test_a_job_is_submitted_only_once(world: World, uploads: RecordingUploads) -> None:
    job_id = await _waiting_job(world, uploads)
    await uploads.submit(OWNER, job_id)

    with pytest.raises(ConflictError):
        await uploads.submit(OWNER, job_id)
    assert len(world.tables.outbox) == 1


async def test_another_users_job_cannot_be_submitted(world: World, uploads: RecordingUploads) -> None:
    job_id = await _waiting_job(world, uploads)

    with pytest.raises(NotFoundError):
        await uploads.submit(Principal(UUID(int=7), Role.USER), job_id)
    assert world.job(job_id).status is JobStatus.AWAITING_UPLOAD


class Receipt:
    """What the HTTP layer hands the use case for an Idempotency-Key: the response to store, and the
    key's claim when the use case is to make it."""

    scope, key = "user", "take-1"

    def __init__(self, fingerprint: str | None = None) -> None:
        self.pending_claim = (
            KeyClaimRequest(self.scope, self.key, fingerprint, datetime.now(UTC), timedelta(hours=24))
            if fingerprint is not None
            else None
        )
        self.made: list[str] = []

    def claimed(self) -> None:
        self.made.append(self.key)

    def response(self, created: Job) -> StoredResponse:
        return StoredResponse(202, str(created.id).encode(), {"Location": f"/v1/jobs/{created.id}"})


async def test_a_pending_claim_is_made_by_the_reference_read_before_anything_is_written(
    world: World, uploads: RecordingUploads
) -> None:
    receipt = Receipt(fingerprint="payload-1")

    job = await uploads.upload(OWNER, ReferenceKind.TOKEN, world.add_token(), TAKE, receipt=receipt)

    assert world.intake.claims == {("user", "take-1"): "payload-1"}
    assert receipt.made == ["take-1"]
    assert world.intake.receipts == {("user", "take-1"): receipt.response(job)}


@pytest.mark.parametrize(
    ("fingerprint", "state"), [("payload-1", KeyState.REPLAY), ("payload-2", KeyState.MISMATCH)]
)
async def test_a_key_found_taken_stores_nothing_and_says_why(
    world: World, uploads: RecordingUploads, fingerprint: str, state: KeyState
) -> None:
    token = world.add_token()
    first = await uploads.upload(OWNER, ReferenceKind.TOKEN, token, TAKE, receipt=Receipt("payload-1"))
    jobs, objects = dict(world.tables.jobs), dict(world.storage.objects)
    retry = Receipt(fingerprint)

    with pytest.raises(KeyTakenError) as taken:
        await uploads.upload(OWNER, ReferenceKind.TOKEN, token, TAKE, receipt=retry)

    assert taken.value.claim.state is state
    if state is KeyState.REPLAY:
        assert taken.value.claim.response == retry.response(first)
    assert retry.made == []
    assert world.tables.jobs == jobs
    assert world.storage.objects == objects  # the retry's recording was written, then deleted


async def test_a_claim_made_before_the_upload_is_refused_is_reported_so_the_key_is_freed(
    world: World, uploads: RecordingUploads
) -> None:
    receipt = Receipt(fingerprint="payload-1")

    with pytest.raises(NotFoundError):
        await uploads.upload(OWNER, ReferenceKind.SCRIPT, world.add_token(), TAKE, receipt=receipt)

    assert receipt.made == ["take-1"]


async def test_an_idempotency_keys_response_is_stored_with_the_job_in_one_commit(
    world: World, uploads: RecordingUploads
) -> None:
    commits = world.database.commits

    job = await uploads.upload(OWNER, ReferenceKind.TOKEN, world.add_token(), TAKE, receipt=Receipt())

    assert world.database.commits == commits + 1
    assert world.intake.receipts == {("user", "take-1"): Receipt().response(job)}
    assert world.job(job.id).status is JobStatus.QUEUED


@pytest.mark.parametrize(
    ("kind", "reference", "refusal"),
    [
        (ReferenceKind.SCRIPT, True, NotFoundError),  # a token is no script
        (ReferenceKind.TOKEN, False, ConflictError),  # no reference audio yet
    ],
)
async def test_a_refused_upload_stores_no_response_and_no_recording(
    world: World, uploads: RecordingUploads, kind: ReferenceKind, reference: bool, refusal: type[Exception]
) -> None:
    with pytest.raises(refusal):
        await uploads.upload(OWNER, kind, world.add_token(reference=reference), TAKE, receipt=Receipt())

    assert world.intake.receipts == {}
    assert world.storage.objects == {}


async def test_a_failed_commit_stores_no_response_and_deletes_the_recording(
    world: World, uploads: RecordingUploads
) -> None:
    world.database.fail_next_commit = True

    with pytest.raises(ConflictError):
        await uploads.upload(OWNER, ReferenceKind.TOKEN, world.add_token(), TAKE, receipt=Receipt())

    assert world.intake.receipts == {}
    assert world.storage.objects == {}
    assert world.tables.jobs == {}


class _ThreadNoting:
    """Inspects like the fake inspector, after the WAV header a test puts first; notes the thread."""

    def __init__(self) -> None:
        self.threads: list[int] = []

    def inspect(self, data: bytes, limits: AudioLimits) -> InspectedAudio:
        self.threads.append(threading.get_ident())
        return FakeInspector().inspect(data[44:], limits)


def _wav(format_code: int, body: bytes) -> bytes:
    """A canonical 44-byte WAV header with ``format_code``, then ``body``."""
    fmt = format_code.to_bytes(2, "little") + (1).to_bytes(2, "little") + bytes(12)
    return b"RIFF" + bytes(4) + b"WAVEfmt " + (16).to_bytes(4, "little") + fmt + b"data" + bytes(4) + body


@pytest.mark.parametrize(
    ("recording", "on_the_loop"),
    [
        (_wav(1, TAKE), True),  # a small PCM WAV
        (_wav(3, TAKE), True),  # a small float WAV
        (_wav(0x55, TAKE), False),  # MP3 in a WAV container: compressed
        (_wav(1, TAKE + b" " * INLINE_INSPECT_MAX_BYTES), False),  # too long to hold the loop
        (b"OggS" + bytes(40) + TAKE, False),  # compressed
    ],
)
async def test_only_a_small_uncompressed_recording_is_checked_on_the_event_loop(
    world: World, queue: RecordingRelayQueue, recording: bytes, on_the_loop: bool
) -> None:
    inspector = _ThreadNoting()
    uploads = RecordingUploads(
        world.database, world.intake, world.storage, inspector, queue, world.clock, world.ids,
        world.settings, "features/1",
    )  # fmt: skip

    await uploads.upload(OWNER, ReferenceKind.TOKEN, world.add_token(), recording)

    assert (inspector.threads == [threading.get_ident()]) is on_the_loop
    assert len(inspector.threads) == 1


async def test_a_digest_the_caller_computed_is_the_one_the_job_records(
    world: World, uploads: RecordingUploads
) -> None:
    given = "ab" * 32

    job = await uploads.upload(OWNER, ReferenceKind.TOKEN, world.add_token(), TAKE, recording_sha256=given)

    assert job.inputs is not None
    assert job.inputs.recording_sha256 == given
