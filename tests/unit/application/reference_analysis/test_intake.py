"""Accepting orders: idempotent by job id, a bounded queue, bounded concurrency, a graceful stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from uuid import uuid4

import pytest
from tests.unit.application.reference_analysis.fakes import order

from application.reference_analysis.intake import (
    AnalysisIntake,
    IntakeSettings,
    NotAcceptingError,
    QueueFullError,
    RecentJobs,
)
from application.reference_analysis.orders import AnalysisOrder


class Processor:
    """Records orders; holds each one until released when ``hold`` is set."""

    def __init__(self, hold: bool = False) -> None:
        self.started: list[AnalysisOrder] = []
        self.finished: list[AnalysisOrder] = []
        self.release = asyncio.Event()
        if not hold:
            self.release.set()
        self.running = 0
        self.most_at_once = 0

    async def __call__(self, analysis_order: AnalysisOrder) -> None:
        self.started.append(analysis_order)
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        await self.release.wait()
        await asyncio.sleep(0)
        self.running -= 1
        self.finished.append(analysis_order)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _intake(processor: Processor, concurrency: int = 1, queue_size: int = 4) -> AnalysisIntake:
    return AnalysisIntake(processor, IntakeSettings(concurrency=concurrency, queue_size=queue_size))


StartIntake = Callable[..., AnalysisIntake]


@pytest.fixture
async def start_intake() -> AsyncIterator[StartIntake]:
    """``start_intake(processor, concurrency=1, queue_size=4)``: a started intake, stopped after the test."""
    started: list[AnalysisIntake] = []

    def start(processor: Processor, concurrency: int = 1, queue_size: int = 4) -> AnalysisIntake:
        intake = _intake(processor, concurrency, queue_size)
        intake.start()
        started.append(intake)
        return intake

    yield start
    for intake in started:
        await intake.stop(1.0)


async def _fill(intake: AnalysisIntake, processor: Processor, first: AnalysisOrder | None = None) -> None:
    """One order analysing (held) and one waiting: a queue of one is full."""
    intake.submit(first or order())
    await _until(lambda: processor.started)
    intake.submit(order())


async def _until(condition: Callable[[], object]) -> None:
    """Poll for up to two seconds."""
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the condition did not hold within 2 s")


async def test_a_new_job_is_accepted(start_intake: StartIntake) -> None:
    intake = start_intake(Processor())

    assert intake.submit(order()).status == "accepted"


async def test_a_repeated_job_id_is_answered_duplicate(start_intake: StartIntake) -> None:
    intake = start_intake(Processor())
    analysis_order = order()
    intake.submit(analysis_order)

    assert intake.submit(analysis_order).status == "duplicate"


async def test_a_repeated_job_id_is_analysed_once(start_intake: StartIntake) -> None:
    processor = Processor()
    intake = start_intake(processor)
    analysis_order = order()
    intake.submit(analysis_order)
    await _until(lambda: processor.finished)

    intake.submit(analysis_order)
    await intake.stop(1.0)

    assert len(processor.started) == 1


async def test_a_full_queue_refuses_an_order(start_intake: StartIntake) -> None:
    processor = Processor(hold=True)
    intake = start_intake(processor, concurrency=1, queue_size=1)
    await _fill(intake, processor)

    with pytest.raises(QueueFullError):
        intake.submit(order())
    processor.release.set()


async def test_a_full_queue_says_when_to_retry(start_intake: StartIntake) -> None:
    processor = Processor(hold=True)
    intake = start_intake(processor, concurrency=1, queue_size=1)
    await _fill(intake, processor)

    with pytest.raises(QueueFullError) as refused:
        intake.submit(order())
    assert refused.value.retry_after_seconds >= 1
    processor.release.set()


async def test_an_order_refused_for_a_full_queue_is_accepted_once_there_is_room(
    start_intake: StartIntake,
) -> None:
    processor = Processor(hold=True)
    intake = start_intake(processor, concurrency=1, queue_size=1)
    await _fill(intake, processor)
    refused = order()
    with pytest.raises(QueueFullError):
        intake.submit(refused)

    processor.release.set()
    await _until(lambda: intake.waiting == 0)

    assert intake.submit(refused).status == "accepted"


async def test_a_repeated_job_id_is_answered_duplicate_while_the_queue_is_full(
    start_intake: StartIntake,
) -> None:
    processor = Processor(hold=True)
    intake = start_intake(processor, concurrency=1, queue_size=1)
    first = order()
    await _fill(intake, processor, first)

    assert intake.submit(first).status == "duplicate"
    processor.release.set()


async def test_no_more_orders_are_analysed_at_once_than_the_concurrency(
    start_intake: StartIntake,
) -> None:
    processor = Processor(hold=True)
    intake = start_intake(processor, concurrency=2, queue_size=8)
    for _ in range(6):
        intake.submit(order())
    await _until(lambda: len(processor.started) == 2)
    await asyncio.sleep(0.01)

    processor.release.set()
    await _until(lambda: len(processor.finished) == 6)

    assert processor.most_at_once == 2


async def test_a_stopping_intake_refuses_new_orders() -> None:
    intake = _intake(Processor())
    intake.start()
    await intake.stop(1.0)

    with pytest.raises(NotAcceptingError):
        intake.submit(order())


async def test_stopping_lets_queued_orders_finish_within_the_grace() -> None:
    processor = Processor()
    intake = _intake(processor, concurrency=1, queue_size=8)
    intake.start()
    for _ in range(3):
        intake.submit(order())

    await intake.stop(2.0)

    assert len(processor.finished) == 3


async def test_stopping_cancels_an_order_that_outlasts_the_grace() -> None:
    processor = Processor(hold=True)
    intake = _intake(processor)
    intake.start()
    intake.submit(order())
    await _until(lambda: processor.started)

    await intake.stop(0.05)

    assert processor.finished == []


def test_a_recent_job_id_is_remembered() -> None:
    recent = RecentJobs(capacity=10, ttl_seconds=60, monotonic=Clock())
    job_id = uuid4()
    recent.add(job_id)

    assert job_id in recent


def test_a_job_id_is_forgotten_after_its_time() -> None:
    clock = Clock()
    recent = RecentJobs(capacity=10, ttl_seconds=60, monotonic=clock)
    job_id = uuid4()
    recent.add(job_id)

    clock.now += 61

    assert job_id not in recent


def test_the_oldest_job_ids_are_forgotten_beyond_the_capacity() -> None:
    clock = Clock()
    recent = RecentJobs(capacity=2, ttl_seconds=60, monotonic=clock)
    oldest = uuid4()
    recent.add(oldest)
    clock.now += 1
    recent.add(uuid4())
    recent.add(uuid4())

    assert oldest not in recent
