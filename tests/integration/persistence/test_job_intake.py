"""The upload path's statements: the reference read agrees with the item as the repositories load it,
and the one write stores what a unit of work would (the job, its events numbered in the owner's feed,
the outbox row, a reused result's words) together with the idempotency key's response, publishing the
events after the commit; concurrent writes of one user keep the feed gapless."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.persistence.idempotency import PostgresIdempotencyStore
from adapters.persistence.job_intake import AsyncpgJobIntake
from application.ports.idempotency import KeyClaimRequest, KeyState, KeyTakenError, StoredResponse
from application.ports.job_intake import ReuseQuery
from domain.analysis.jobs import AnalysisInputs, EventType, Job, JobStatus
from domain.analysis.outbox import OutboxMessage
from domain.analysis.results import AnalysisResult, WordResult, WordStatus
from domain.catalog import ReferenceAudio, ReferenceKind, Word
from domain.errors import ConflictError
from tests.integration.persistence.conftest import UnitOfWorkFactory
from tests.integration.persistence.test_unit_of_work_events import HOUR, NOW, RECORDING, a_queued_job
from tests.support.pipeline_fakes import RecordingPublisher

FEATURES = "features/1"


class Receipt:
    pending_claim = None

    def __init__(self, scope: str, key: str) -> None:
        self.scope, self.key = scope, key
        self.asked: list[UUID] = []

    def claimed(self) -> None:
        raise AssertionError("nothing to claim")

    def response(self, created: Job) -> StoredResponse:
        self.asked.append(created.id)
        return StoredResponse(
            202, f'{{"id": "{created.id}"}}'.encode(), {"Location": f"/v1/jobs/{created.id}"}
        )


@pytest.fixture
def intake(engine: AsyncEngine, publisher: RecordingPublisher) -> AsyncpgJobIntake:
    return AsyncpgJobIntake(engine, publisher)


async def with_reference(unit_of_work: UnitOfWorkFactory, item_id: UUID) -> None:
    async with unit_of_work() as uow:
        item = await uow.items.get(item_id)
        assert item is not None
        item.reference_audio = ReferenceAudio(f"references/{item_id}.wav", "audio/wav", 1.5)
        item.words = [Word(0, "I", 0.0, 0.2), Word(1, "have", 0.25, 0.61), Word(2, "doubts", 0.7, 1.3)]
        await uow.items.save(item)
        await uow.commit()


def sibling(job: Job) -> Job:
    return Job.create(uuid4(), job.user_id, ReferenceKind.TOKEN, job.item_id, NOW, RECORDING, deadline=HOUR)


def outbox_for(job: Job) -> OutboxMessage:
    return OutboxMessage(uuid4(), job.id, NOW, traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01")


async def test_the_reference_read_gives_the_items_kind_and_reference_version(
    intake: AsyncpgJobIntake, unit_of_work: UnitOfWorkFactory
) -> None:
    job = await a_queued_job(unit_of_work)
    assert job.item_id is not None
    without_audio = await intake.reference(job.item_id)
    await with_reference(unit_of_work, job.item_id)

    found = await intake.reference(job.item_id)
    async with unit_of_work() as uow:
        item = await uow.items.get(job.item_id)

    assert without_audio is not None
    assert without_audio.reference_version is None
    assert item is not None
    assert item.reference_version is not None
    assert found is not None
    assert (found.kind, found.reference_version, found.reusable) == (
        ReferenceKind.TOKEN,
        item.reference_version,
        {},
    )
    assert await intake.reference(uuid4()) is None


async def test_accept_stores_the_job_its_event_and_outbox_row_and_the_keys_response_at_once(
    intake: AsyncpgJobIntake,
    engine: AsyncEngine,
    unit_of_work: UnitOfWorkFactory,
    publisher: RecordingPublisher,
) -> None:
    job = await a_queued_job(unit_of_work)
    job.inputs = AnalysisInputs("ab" * 32, "ref-1", FEATURES)
    outbox = outbox_for(job)
    keys = PostgresIdempotencyStore(engine)
    scope = str(job.user_id)
    assert (await keys.claim(scope, "k", "print", NOW, timedelta(hours=24))).state is KeyState.NEW
    receipt = Receipt(scope, "k")

    await intake.accept(job, outbox, receipt)

    async with unit_of_work() as uow:
        stored = await uow.jobs.get(job.id)
        message = await uow.outbox.get(outbox.id)
        events = await uow.job_events.list_for_user_after(job.user_id, 0)
    assert stored is not None
    assert (stored.status, stored.recording, stored.inputs, stored.deadline_at, stored.last_sequence) == (
        JobStatus.QUEUED,
        RECORDING,
        job.inputs,
        job.deadline_at,
        1,
    )
    assert message == replace(outbox, next_attempt_at=outbox.created_at)  # due at once
    assert [(e.job_id, e.sequence, e.type, e.feed_sequence) for e in events] == [
        (job.id, 1, EventType.QUEUED, 1)
    ]
    assert publisher.batches == [events]
    assert job.pending_events == []
    replay = await keys.claim(scope, "k", "print", NOW, timedelta(hours=24))
    assert replay.state is KeyState.REPLAY
    assert replay.response == receipt.response(job)


async def test_a_reused_result_is_stored_with_its_words_and_no_outbox_row(
    intake: AsyncpgJobIntake, engine: AsyncEngine, unit_of_work: UnitOfWorkFactory
) -> None:
    job = await a_queued_job(unit_of_work)
    assert job.item_id is not None
    await with_reference(unit_of_work, job.item_id)
    reference = await intake.reference(job.item_id)
    assert reference is not None
    assert reference.reference_version is not None
    inputs = AnalysisInputs("cd" * 32, reference.reference_version, FEATURES)
    words = [
        WordResult(0, "I", 0.0, 0.2, 0.9, WordStatus.OK),
        WordResult(1, "have", None, None, 0.0, WordStatus.OMITTED),
    ]
    source = sibling(job)
    source.inputs = inputs
    source.start(NOW)
    source.complete(AnalysisResult(81.0, {"pitch": 80.0}, words, {"wpm": 120}), NOW)
    await intake.accept(source, outbox_for(source))
    query = ReuseQuery(job.user_id, inputs.recording_sha256, FEATURES)
    found = await intake.reference(job.item_id, query)
    assert found is not None
    assert found.reusable == {reference.reference_version: source.id}

    job.inputs = inputs
    async with unit_of_work() as uow:
        loaded = await uow.jobs.get(source.id)
    assert loaded is not None
    job.complete_from(loaded, NOW)
    await intake.accept(job, None)

    async with unit_of_work() as uow:
        reused = await uow.jobs.get(job.id)
        events = await uow.job_events.list_after(job.id, 0)
    async with engine.connect() as connection:
        rows = await connection.scalar(text("SELECT count(*) FROM outbox WHERE job_id = :id"), {"id": job.id})
    assert reused is not None
    assert reused.result is not None
    assert (reused.status, reused.reused_from, reused.result.words) == (JobStatus.COMPLETED, source.id, words)
    assert [e.type for e in events] == [EventType.QUEUED, EventType.COMPLETED]
    assert rows == 0


async def test_concurrent_uploads_of_one_user_take_every_feed_place_once(
    intake: AsyncpgJobIntake, unit_of_work: UnitOfWorkFactory
) -> None:
    first = await a_queued_job(unit_of_work)
    jobs = [first] + [sibling(first) for _ in range(15)]

    await asyncio.gather(*(intake.accept(job, outbox_for(job)) for job in jobs))

    async with unit_of_work() as uow:
        events = await uow.job_events.list_for_user_after(first.user_id, 0)
    assert [e.feed_sequence for e in events] == list(range(1, 17))
    assert sorted(e.job_id for e in events) == sorted(job.id for job in jobs)


async def test_a_job_whose_item_is_gone_is_a_conflict_and_stores_nothing(
    intake: AsyncpgJobIntake,
    engine: AsyncEngine,
    unit_of_work: UnitOfWorkFactory,
    publisher: RecordingPublisher,
) -> None:
    job = await a_queued_job(unit_of_work)
    job.item_id = uuid4()
    keys = PostgresIdempotencyStore(engine)
    scope = str(job.user_id)
    await keys.claim(scope, "k", "print", NOW, timedelta(hours=24))

    with pytest.raises(ConflictError):
        await intake.accept(job, outbox_for(job), Receipt(scope, "k"))

    async with unit_of_work() as uow:
        assert await uow.jobs.get(job.id) is None
        assert await uow.job_events.last_feed_sequence(job.user_id) == 0
    assert publisher.batches == []
    assert (await keys.claim(scope, "k", "print", NOW, timedelta(hours=24))).state is KeyState.IN_FLIGHT


def _claim(scope: str, key: str, fingerprint: str = "print") -> KeyClaimRequest:
    return KeyClaimRequest(scope, key, fingerprint, NOW, timedelta(hours=24))


@pytest.mark.parametrize("reuse", [False, True])
async def test_the_reference_read_claims_the_key_in_the_same_statement(
    intake: AsyncpgJobIntake, engine: AsyncEngine, unit_of_work: UnitOfWorkFactory, reuse: bool
) -> None:
    job = await a_queued_job(unit_of_work)
    assert job.item_id is not None
    await with_reference(unit_of_work, job.item_id)
    scope = str(job.user_id)
    query = ReuseQuery(job.user_id, "ab" * 32, FEATURES) if reuse else None
    plain = await intake.reference(job.item_id, query)

    claiming = await intake.reference(job.item_id, query, _claim(scope, "k"))

    assert claiming == plain
    keys = PostgresIdempotencyStore(engine)
    assert (await keys.claim(scope, "k", "print", NOW, timedelta(hours=24))).state is KeyState.IN_FLIGHT
    with pytest.raises(KeyTakenError) as in_flight:
        await intake.reference(job.item_id, query, _claim(scope, "k"))
    assert in_flight.value.claim.state is KeyState.IN_FLIGHT


async def test_a_key_taken_is_refused_before_the_item_and_a_claim_holds_for_an_unknown_item(
    intake: AsyncpgJobIntake, engine: AsyncEngine, unit_of_work: UnitOfWorkFactory
) -> None:
    job = await a_queued_job(unit_of_work)
    assert job.item_id is not None
    await with_reference(unit_of_work, job.item_id)
    scope = str(job.user_id)
    await intake.reference(job.item_id, None, _claim(scope, "k"))
    receipt = Receipt(scope, "k")
    accepted = sibling(job)
    await intake.accept(accepted, outbox_for(accepted), receipt)

    with pytest.raises(KeyTakenError) as replay:
        await intake.reference(uuid4(), None, _claim(scope, "k"))
    with pytest.raises(KeyTakenError) as mismatch:
        await intake.reference(job.item_id, None, _claim(scope, "k", "another payload"))
    unknown = await intake.reference(uuid4(), None, _claim(scope, "other"))

    assert replay.value.claim.state is KeyState.REPLAY
    assert replay.value.claim.response == receipt.response(accepted)
    assert mismatch.value.claim.state is KeyState.MISMATCH
    assert unknown is None
    keys = PostgresIdempotencyStore(engine)
    assert (await keys.claim(scope, "other", "print", NOW, timedelta(hours=24))).state is KeyState.IN_FLIGHT
