"""Reusing finished analyses, on fakes: a recording with the same bytes, reference and feature version
as one of the user's completed jobs completes at once from its result, and nothing is dispatched; any
difference in the inputs, another user, an unfinished source or reuse=False gets a new analysis."""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

import pytest
from tests.support.pipeline_fakes import RecordingRelayQueue
from tests.unit.application.fakes import FakeInspector
from tests.unit.application.pipeline_world import NOW, OWNER, World

from application.analysis.uploads import RecordingUploads, recording_key
from domain.accounts import Principal, Role
from domain.analysis.jobs import AnalysisInputs, EventType, Job, JobStatus
from domain.analysis.results import AnalysisResult, WordResult, WordStatus
from domain.catalog import ReferenceAudio, ReferenceKind, Word
from domain.errors import ConflictError

TAKE = b"wav:1.5"
ONE_BYTE_CHANGED = b"wav:1.6"
TOKEN = ReferenceKind.TOKEN
RESULT = AnalysisResult(
    overall=71.5,
    scores={"pronunciation": 70.0, "rhythm": 73.0},
    words=[WordResult(0, "hello", 0.0, 0.4, 80.0, WordStatus.OK)],
    metrics={"feature_version": "features/1"},
)


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def queue() -> RecordingRelayQueue:
    return RecordingRelayQueue()


@pytest.fixture
def uploads(world: World, queue: RecordingRelayQueue) -> RecordingUploads:
    return world.uploads(queue)


async def _analysed(
    world: World, uploads: RecordingUploads, item_id: UUID, data: bytes = TAKE, who: Principal = OWNER
) -> Job:
    """An upload whose analysis completed (as the webhook would complete it)."""
    job = await uploads.upload(who, TOKEN, item_id, data)
    assert job.status is JobStatus.QUEUED
    world.job(job.id).complete(RESULT, NOW)
    return world.job(job.id)


async def test_identical_bytes_complete_at_once_from_the_stored_result_without_dispatch(
    world: World, uploads: RecordingUploads, queue: RecordingRelayQueue
) -> None:
    item = world.add_token()
    first = await _analysed(world, uploads, item)

    again = await uploads.upload(OWNER, TOKEN, item, TAKE)

    assert again.status is JobStatus.COMPLETED
    assert again.reused_from == first.id
    assert world.job(again.id).result == first.result == RESULT
    assert [m.job_id for m in world.tables.outbox.values()] == [first.id]  # nothing to relay
    assert len(queue.enqueued) == 1
    assert world.stored_events(again.id) == [EventType.QUEUED, EventType.COMPLETED]
    assert world.published(again.id) == [EventType.QUEUED, EventType.COMPLETED]
    completed = world.tables.events_of(again.id)[-1].data
    assert (completed["reused_from"], completed["overall"]) == (str(first.id), RESULT.overall)
    # The new job keeps a recording of its own.
    assert recording_key(again.id, FakeInspector().inspect(TAKE, world.settings.limits(TOKEN)).format) in (
        world.storage.objects
    )


@pytest.mark.parametrize(
    "change",
    ["one byte", "reuse=false", "another user", "new reference audio", "new words", "feature version"],
)
async def test_any_difference_gets_a_new_analysis(
    world: World, uploads: RecordingUploads, queue: RecordingRelayQueue, change: str
) -> None:
    item = world.add_token()
    await _analysed(world, uploads, item)
    data, who, reuse, submitter = TAKE, OWNER, True, uploads
    if change == "one byte":
        data = ONE_BYTE_CHANGED
    elif change == "reuse=false":
        reuse = False
    elif change == "another user":
        who = Principal(UUID(int=7), Role.USER)
    elif change == "new reference audio":
        world.database.tables.items[item].reference_audio = ReferenceAudio(
            "references/new.wav", "audio/wav", 1.0
        )
    elif change == "new words":
        world.database.tables.items[item].words = [Word(0, "Hello", 0.0, 0.4), Word(1, "there", 0.5, 0.9)]
    else:
        submitter = world.uploads(queue, feature_version="features/2")

    job = await submitter.upload(who, TOKEN, item, data, reuse=reuse)

    assert job.status is JobStatus.QUEUED
    assert job.reused_from is None
    assert len(world.tables.outbox) == 2
    assert world.stored_events(job.id) == [EventType.QUEUED]


async def test_an_unfinished_or_failed_analysis_is_not_reused(
    world: World, uploads: RecordingUploads
) -> None:
    item = world.add_token()
    pending = await uploads.upload(OWNER, TOKEN, item, TAKE)
    failed = await uploads.upload(OWNER, TOKEN, item, TAKE)
    world.job(failed.id).fail("analysis_failed", "no speech", NOW)

    job = await uploads.upload(OWNER, TOKEN, item, TAKE)

    assert (pending.status, job.status) == (JobStatus.QUEUED, JobStatus.QUEUED)


async def test_a_reused_result_reused_again_names_the_job_that_was_analysed(
    world: World, uploads: RecordingUploads
) -> None:
    item = world.add_token()
    first = await _analysed(world, uploads, item)
    await uploads.upload(OWNER, TOKEN, item, TAKE)

    third = await uploads.upload(OWNER, TOKEN, item, TAKE)

    assert third.reused_from == first.id


async def test_a_direct_upload_of_identical_bytes_is_completed_on_submit(
    world: World, uploads: RecordingUploads, queue: RecordingRelayQueue
) -> None:
    item = world.add_token()
    first = await _analysed(world, uploads, item)
    started = await uploads.start_direct_upload(OWNER, TOKEN, item, "audio/wav", len(TAKE))
    await world.storage.put(recording_key(started.job.id), TAKE, "audio/wav")

    job = await uploads.submit(OWNER, started.job.id)

    assert (job.status, job.reused_from) == (JobStatus.COMPLETED, first.id)
    assert world.job(job.id).inputs == first.inputs
    assert len(queue.enqueued) == 1
    assert world.stored_events(job.id) == [EventType.QUEUED, EventType.COMPLETED]


async def test_a_direct_upload_submitted_with_reuse_false_is_analysed(
    world: World, uploads: RecordingUploads
) -> None:
    item = world.add_token()
    await _analysed(world, uploads, item)
    started = await uploads.start_direct_upload(OWNER, TOKEN, item, "audio/wav", len(TAKE))
    await world.storage.put(recording_key(started.job.id), TAKE, "audio/wav")

    job = await uploads.submit(OWNER, started.job.id, reuse=False)

    assert (job.status, job.reused_from) == (JobStatus.QUEUED, None)


def test_only_a_queued_job_takes_a_completed_result_of_the_same_inputs() -> None:
    inputs = AnalysisInputs("a" * 64, "r" * 64, "features/1")

    def job(status: JobStatus, job_inputs: AnalysisInputs | None = inputs) -> Job:
        made = Job(UUID(int=len(str(status)) + 1), OWNER.user_id, TOKEN, UUID(int=9), status, NOW, NOW)
        made.inputs = job_inputs
        return made

    source = job(JobStatus.COMPLETED)
    source.result = RESULT
    with pytest.raises(ConflictError):
        job(JobStatus.PROCESSING).complete_from(source, NOW)
    with pytest.raises(ConflictError):
        job(JobStatus.QUEUED).complete_from(job(JobStatus.FAILED), NOW)
    with pytest.raises(ConflictError):
        job(JobStatus.QUEUED, replace(inputs, feature_version="features/2")).complete_from(source, NOW)
