"""AnalysisWebhooks on fakes: each delivery applies once, in one transaction with its inbox entry;
duplicates, unknown jobs and reports about finished jobs change nothing."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
from tests.unit.application.pipeline_world import NOW, World

from application.analysis.webhooks import (
    AnalysisEvent,
    AnalysisWebhooks,
    Completed,
    Failed,
    Progress,
    Started,
    WebhookDelivery,
    WebhookOutcome,
)
from domain.analysis.jobs import EventType, JobStatus
from domain.analysis.results import AnalysisResult

RESULT = AnalysisResult(overall=82.0, scores={"pronunciation": 80.0})


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
async def job_id(world: World) -> UUID:
    """A job the relay has sent and marked dispatched."""
    job_id, _ = await world.queue_job()
    await world.change_job(job_id, lambda job: job.mark_dispatched(NOW, timedelta(minutes=2)))
    return job_id


async def deliver(world: World, job_id: UUID, event: AnalysisEvent, webhook_id: str = "") -> WebhookOutcome:
    webhook_id = webhook_id or f"msg_{len(world.tables.inbox)}"
    return await AnalysisWebhooks(world.database, world.clock).receive(
        WebhookDelivery(webhook_id, job_id, "analysis.event", event)
    )


async def test_started_moves_the_job_to_processing_and_publishes_started(world: World, job_id: UUID) -> None:
    outcome = await deliver(world, job_id, Started())

    assert outcome is WebhookOutcome.APPLIED
    assert world.job(job_id).status is JobStatus.PROCESSING
    assert world.stored_events(job_id) == [EventType.QUEUED, EventType.DISPATCHED, EventType.STARTED]
    assert world.published(job_id) == [EventType.QUEUED, EventType.DISPATCHED, EventType.STARTED]


async def test_a_whole_analysis_leaves_its_events_in_sequence_and_the_result(
    world: World, job_id: UUID
) -> None:
    for event in (Started(), Progress(30, "decoding"), Progress(70, "scoring"), Completed(RESULT)):
        assert await deliver(world, job_id, event) is WebhookOutcome.APPLIED

    stored = world.tables.events_of(job_id)
    assert [(e.sequence, e.type) for e in stored] == [
        (1, EventType.QUEUED),
        (2, EventType.DISPATCHED),
        (3, EventType.STARTED),
        (4, EventType.PROGRESS),
        (5, EventType.PROGRESS),
        (6, EventType.COMPLETED),
    ]
    assert world.publisher.events == stored
    job = world.job(job_id)
    assert (job.status, job.result, job.progress) == (JobStatus.COMPLETED, RESULT, 100)


async def test_a_repeated_webhook_id_is_a_duplicate_and_changes_nothing(world: World, job_id: UUID) -> None:
    await deliver(world, job_id, Progress(30, "decoding"), webhook_id="msg_1")

    repeat = await deliver(world, job_id, Progress(60, "features"), webhook_id="msg_1")

    assert repeat is WebhookOutcome.DUPLICATE
    assert world.job(job_id).progress == 30
    assert world.published(job_id) == [EventType.QUEUED, EventType.DISPATCHED, EventType.PROGRESS]


async def test_a_webhook_for_an_unknown_job_is_remembered_and_changes_nothing(world: World) -> None:
    unknown = UUID(int=404)

    first = await deliver(world, unknown, Started(), webhook_id="msg_unknown")
    again = await deliver(world, unknown, Started(), webhook_id="msg_unknown")

    assert (first, again) == (WebhookOutcome.UNKNOWN_JOB, WebhookOutcome.DUPLICATE)
    assert world.tables.inbox["msg_unknown"].job_id == unknown
    assert world.tables.jobs == {}
    assert world.publisher.events == []


async def test_a_report_after_completion_is_ignored_but_its_id_is_remembered(
    world: World, job_id: UUID
) -> None:
    await deliver(world, job_id, Completed(RESULT))

    late = await deliver(world, job_id, Progress(90, "scoring"), webhook_id="msg_late")

    assert late is WebhookOutcome.IGNORED
    assert "msg_late" in world.tables.inbox
    assert world.job(job_id).status is JobStatus.COMPLETED
    assert world.published(job_id) == [EventType.QUEUED, EventType.DISPATCHED, EventType.COMPLETED]


async def test_a_result_for_a_cancelled_job_is_ignored(world: World, job_id: UUID) -> None:
    await world.change_job(job_id, lambda job: job.cancel(NOW))

    outcome = await deliver(world, job_id, Completed(RESULT))

    assert outcome is WebhookOutcome.IGNORED
    assert (world.job(job_id).status, world.job(job_id).result) == (JobStatus.CANCELLED, None)


async def test_progress_arriving_out_of_order_never_moves_backwards(world: World, job_id: UUID) -> None:
    await deliver(world, job_id, Progress(60, "features"))

    older = await deliver(world, job_id, Progress(30, "decoding"))

    assert older is WebhookOutcome.IGNORED
    assert (world.job(job_id).progress, world.job(job_id).stage) == (60, "features")


async def test_a_failure_report_fails_the_job_with_the_servers_code(world: World, job_id: UUID) -> None:
    outcome = await deliver(world, job_id, Failed("undecodable", "The recording could not be decoded."))

    job = world.job(job_id)
    assert outcome is WebhookOutcome.APPLIED
    assert (job.status, job.failure_code) == (JobStatus.FAILED, "analysis_failed:undecodable")
    assert job.failure_reason == "The recording could not be decoded."
    assert world.published(job_id) == [EventType.QUEUED, EventType.DISPATCHED, EventType.FAILED]


async def test_a_publisher_outage_still_applies_and_stores_the_event(world: World, job_id: UUID) -> None:
    world.publisher.fail = True

    outcome = await deliver(world, job_id, Started())

    assert outcome is WebhookOutcome.APPLIED
    assert world.stored_events(job_id) == [EventType.QUEUED, EventType.DISPATCHED, EventType.STARTED]


@pytest.mark.parametrize(
    ("event", "then"),
    [
        (Started(), EventType.STARTED),
        (Progress(20, "decoding"), EventType.PROGRESS),
        (Completed(RESULT), EventType.COMPLETED),
        (Failed("undecodable", "The recording could not be decoded."), EventType.FAILED),
    ],
)
async def test_a_report_on_a_job_still_queued_records_its_dispatch_first(
    world: World, event: AnalysisEvent, then: EventType
) -> None:
    """The relay marks a row sent after the server's 2xx, in a batch; the server may call back first.
    Its report proves the job reached it, so the history keeps the ``dispatched`` step."""
    job_id, _ = await world.queue_job()

    outcome = await deliver(world, job_id, event)

    assert outcome is WebhookOutcome.APPLIED
    assert world.stored_events(job_id) == [EventType.QUEUED, EventType.DISPATCHED, then]
    assert world.published(job_id) == [EventType.QUEUED, EventType.DISPATCHED, then]


async def test_the_relays_mark_after_an_early_report_adds_nothing(world: World) -> None:
    job_id, _ = await world.queue_job()
    await deliver(world, job_id, Completed(RESULT))

    await world.change_job(job_id, lambda job: job.mark_dispatched(NOW, timedelta(minutes=2)))

    assert world.stored_events(job_id) == [EventType.QUEUED, EventType.DISPATCHED, EventType.COMPLETED]
    assert world.job(job_id).status is JobStatus.COMPLETED
