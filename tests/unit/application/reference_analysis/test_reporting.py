"""A job's webhooks: queued without waiting, delivered one after another in order, drained on stop."""

from __future__ import annotations

import asyncio
from uuid import uuid4

from tests.unit.application.reference_analysis.fakes import CALLBACK_URL, FixedClock, RecordingSender

from application.reference_analysis.outcomes import Completed, Failure
from application.reference_analysis.reporting import Reporter


async def test_webhooks_of_a_job_arrive_in_the_order_they_were_queued_when_earlier_ones_are_slow() -> None:
    sender = RecordingSender(delays={"analysis.started": 0.05, "analysis.progress": 0.02})
    reporter = Reporter(sender, FixedClock())
    reports = reporter.for_job(uuid4(), CALLBACK_URL)

    reports.started()
    reports.progress("downloading")
    reports.finished(Completed({"overall": 90.0}))
    await reporter.drain(5.0)

    assert sender.types() == ["analysis.started", "analysis.progress", "analysis.completed"]


async def test_queuing_a_webhook_does_not_wait_for_its_delivery() -> None:
    sender = RecordingSender(delays={"analysis.started": 10.0})
    reporter = Reporter(sender, FixedClock())

    reporter.for_job(uuid4(), CALLBACK_URL).started()

    assert reporter.pending == 1
    await reporter.drain(0.0)


async def test_a_delivery_that_fails_does_not_hold_back_the_next() -> None:
    sender = RecordingSender(failing={"analysis.started"})
    reporter = Reporter(sender, FixedClock())
    reports = reporter.for_job(uuid4(), CALLBACK_URL)

    reports.started()
    reports.finished(Failure("no_speech", "No speech."))
    await reporter.drain(5.0)

    assert sender.types() == ["analysis.failed"]


async def test_webhooks_go_to_the_callback_url_of_the_order() -> None:
    sender = RecordingSender()
    reporter = Reporter(sender, FixedClock())

    reporter.for_job(uuid4(), CALLBACK_URL).started()
    await reporter.drain(5.0)

    assert [url for url, _ in sender.delivered] == [CALLBACK_URL]


async def test_draining_cuts_short_the_deliveries_still_running_after_the_timeout() -> None:
    sender = RecordingSender(delays={"analysis.started": 10.0})
    reporter = Reporter(sender, FixedClock())
    reporter.for_job(uuid4(), CALLBACK_URL).started()

    assert await reporter.drain(0.01) == 1


async def test_jobs_do_not_wait_for_each_others_webhooks() -> None:
    sender = RecordingSender(delays={"analysis.started": 0.2})
    reporter = Reporter(sender, FixedClock())
    slow, fast = reporter.for_job(uuid4(), CALLBACK_URL), reporter.for_job(uuid4(), CALLBACK_URL)

    slow.started()
    fast.finished(Failure("no_speech", "No speech."))
    await asyncio.sleep(0.05)

    assert sender.types() == ["analysis.failed"]
    await reporter.drain(0.0)
