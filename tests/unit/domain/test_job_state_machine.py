"""The job state machine's rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.analysis.jobs import EventType, Job, JobStatus, Recording
from domain.analysis.results import AnalysisResult
from domain.catalog import ReferenceKind
from domain.errors import ConflictError

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _job() -> Job:
    return Job.create(
        uuid4(),
        uuid4(),
        ReferenceKind.TOKEN,
        uuid4(),
        NOW,
        Recording("k", "audio/wav", 1.0, 10),
        deadline=timedelta(hours=1),
    )


def test_a_job_started_before_its_dispatch_was_recorded_still_gets_a_deadline() -> None:
    job = _job()
    job.start(NOW)
    assert job.mark_dispatched(NOW, timedelta(seconds=60)) is None
    assert job.deadline_at == NOW + timedelta(seconds=60)
    assert job.is_overdue(NOW + timedelta(seconds=61))


def test_terminal_states_never_change() -> None:
    job = _job()
    job.complete(AnalysisResult(overall=80.0, scores={"pronunciation": 80.0}), NOW)
    assert job.report_progress(50, "scoring", NOW) is None
    assert job.fail("x", "late", NOW) is None
    assert job.complete(AnalysisResult(overall=1.0, scores={}), NOW) is None
    with pytest.raises(ConflictError):
        job.cancel(NOW)
    assert job.status is JobStatus.COMPLETED


def test_progress_never_goes_backwards_and_events_are_numbered_in_order() -> None:
    job = _job()
    job.report_progress(60, "aligning", NOW)
    assert job.report_progress(40, "features", NOW) is None
    assert job.progress == 60
    assert [e.sequence for e in job.pending_events] == [1, 2]
    assert [e.type for e in job.pending_events] == [EventType.QUEUED, EventType.PROGRESS]
