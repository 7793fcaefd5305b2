"""The analysis job and its state machine.

queued -> dispatched -> processing -> completed | failed, and cancelled from any live state. A job
created for a direct upload starts in awaiting_upload. A queued job whose dispatch failed and will be
tried again stays queued; a ``retrying`` event says why it waits and when the next try is. Every live state has a deadline, by which the
job leaves it or fails. Terminal states never change: a late or repeated report about a finished job
is acknowledged and ignored (the methods return None).

A queued job whose inputs (`AnalysisInputs`) equal those of a completed one may be completed from that
job's result instead of being analysed again: queued -> completed, with `reused_from`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from domain.analysis.results import AnalysisResult
from domain.catalog import ReferenceKind
from domain.errors import ConflictError, InvalidInputError

PROGRESS_STAGES = ("queued", "dispatched", "downloading", "decoding", "features", "aligning", "scoring")


class JobStatus(StrEnum):
    AWAITING_UPLOAD = "awaiting_upload"
    QUEUED = "queued"
    DISPATCHED = "dispatched"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


class EventType(StrEnum):
    QUEUED = "queued"
    RETRYING = "retrying"
    DISPATCHED = "dispatched"
    STARTED = "started"
    PROGRESS = "progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in {EventType.COMPLETED, EventType.FAILED, EventType.CANCELLED}


class RetryReason(StrEnum):
    """Why a dispatch to the analysis servers failed in a way a later try may mend (no host names)."""

    UNREACHABLE = "unreachable"  # connection refused or reset, name not resolved
    TIMED_OUT = "timed_out"  # no answer in time
    BUSY = "busy"  # 429 or 503: the server is overloaded or stopping
    SERVER_ERROR = "server_error"  # any other 5xx


class FailureCode(StrEnum):
    """Why a job failed; the message shown to users comes with it."""

    DISPATCH_REJECTED = "dispatch_rejected"
    DISPATCH_EXHAUSTED = "dispatch_exhausted"
    TIMED_OUT = "timed_out"
    UPLOAD_EXPIRED = "upload_expired"
    REFERENCE_REMOVED = "reference_removed"
    ANALYSIS_FAILED = "analysis_failed"


def dispatched_event_data() -> dict[str, Any]:
    """The data of a ``dispatched`` event (``Job.mark_dispatched``, and the relay's batch statement that
    applies the same rules to many jobs at once in the database)."""
    return {"status": JobStatus.DISPATCHED.value, "stage": "dispatched"}


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One step of a job's history; ``sequence`` is monotonic per job and is the SSE event id.

    ``user_id`` is the job's owner; ``feed_sequence`` the event's place in that user's feed (1, 2, ...
    across all of their jobs, in commit order), given when the event is stored, None before."""

    job_id: UUID
    sequence: int
    type: EventType
    data: dict[str, Any]
    created_at: datetime
    user_id: UUID | None = None
    feed_sequence: int | None = None


@dataclass(frozen=True, slots=True)
class Recording:
    key: str
    content_type: str
    duration_seconds: float
    size: int


@dataclass(frozen=True, slots=True)
class AnalysisInputs:
    """What an analysis result is a function of: the recording's bytes (SHA-256, hex), the practice
    item's reference (`PracticeItem.reference_version`) and the engine's feature configuration version."""

    recording_sha256: str
    reference_version: str
    feature_version: str


@dataclass(slots=True)
class Job:
    id: UUID
    user_id: UUID
    kind: ReferenceKind
    item_id: UUID | None  # the practice item analysed; None once an admin deleted it
    status: JobStatus
    created_at: datetime
    updated_at: datetime
    recording: Recording | None = None
    progress: int = 0
    stage: str | None = None
    failure_code: str | None = None
    failure_reason: str | None = None
    result: AnalysisResult | None = None
    deadline_at: datetime | None = None
    last_sequence: int = 0
    inputs: AnalysisInputs | None = None
    reused_from: UUID | None = None  # the job whose analysis gave this job's result
    pending_events: list[JobEvent] = field(default_factory=list, repr=False)

    @classmethod
    def create(
        cls,
        job_id: UUID,
        user_id: UUID,
        kind: ReferenceKind,
        item_id: UUID,
        now: datetime,
        recording: Recording | None,
        *,
        deadline: timedelta,
    ) -> Job:
        """A job with its recording is queued at once; without one it waits for a direct upload.
        Either way it must move on within ``deadline``."""
        status = JobStatus.QUEUED if recording else JobStatus.AWAITING_UPLOAD
        job = cls(job_id, user_id, kind, item_id, status, now, now, recording=recording)
        job.deadline_at = now + deadline
        if recording is not None:
            job._record(EventType.QUEUED, now, {"status": job.status.value, "progress": 0, "stage": "queued"})
        return job

    def attach_recording(self, recording: Recording, now: datetime, deadline: timedelta) -> JobEvent:
        if self.status is not JobStatus.AWAITING_UPLOAD:
            raise ConflictError(f"the job is {self.status.value}; it was submitted already")
        self.recording = recording
        self.status = JobStatus.QUEUED
        self.stage = "queued"
        self.deadline_at = now + deadline
        return self._record(
            EventType.QUEUED, now, {"status": self.status.value, "progress": 0, "stage": "queued"}
        )

    def mark_dispatched(self, now: datetime, deadline: timedelta) -> JobEvent | None:
        """Record the send. A server may report ``started`` before the relay records it; the job
        then gets the analysis deadline if it is sooner than the one it was queued with."""
        if self.status is JobStatus.PROCESSING:
            if self.deadline_at is None or now + deadline < self.deadline_at:
                self.deadline_at = now + deadline
                self.updated_at = now
            return None
        if self.status is not JobStatus.QUEUED:
            return None
        self.deadline_at = now + deadline
        return self.note_reached_server(now)

    def note_reached_server(self, now: datetime) -> JobEvent | None:
        """An analysis server reports on a job still queued: it received the job, so the send is
        recorded now. The relay marks a row sent only after the server's 2xx, in a batch, and the
        server may call back first; without this the job's history would skip ``dispatched``.
        The status moves on with the report itself; the relay's own mark, when it lands, finds the
        job processing and only sets the analysis deadline (``mark_dispatched``)."""
        if self.status is not JobStatus.QUEUED:
            return None
        self.status = JobStatus.DISPATCHED
        self.stage = "dispatched"
        return self._record(EventType.DISPATCHED, now, dispatched_event_data())

    def note_retry(
        self, attempt: int, reason: RetryReason, next_attempt_at: datetime, now: datetime
    ) -> JobEvent | None:
        """Dispatch attempt ``attempt`` failed for ``reason`` and is tried again at ``next_attempt_at``;
        the job stays queued. Nothing is recorded once the job moved on (a duplicate try's failure)."""
        if self.status is not JobStatus.QUEUED:
            return None
        return self._record(
            EventType.RETRYING,
            now,
            {
                "status": self.status.value,
                "stage": self.stage or "queued",
                "attempt": attempt,
                "reason": reason.value,
                "next_attempt_at": next_attempt_at.isoformat(),
                "retry_in_seconds": round(max((next_attempt_at - now).total_seconds(), 0.0), 1),
            },
        )

    def start(self, now: datetime) -> JobEvent | None:
        if self.status not in {JobStatus.QUEUED, JobStatus.DISPATCHED}:
            return None
        self.status = JobStatus.PROCESSING
        return self._record(EventType.STARTED, now, {"status": self.status.value, "progress": self.progress})

    def report_progress(self, percent: int, stage: str, now: datetime) -> JobEvent | None:
        if not 0 <= percent <= 100:
            raise InvalidInputError("percent", "must be between 0 and 100")
        if self.status.is_terminal or self.status is JobStatus.AWAITING_UPLOAD:
            return None
        if self.status is not JobStatus.PROCESSING:
            self.status = JobStatus.PROCESSING
        # Deliveries can arrive out of order; progress never goes backwards.
        if percent < self.progress:
            return None
        self.progress, self.stage = percent, stage
        return self._record(
            EventType.PROGRESS, now, {"status": self.status.value, "progress": percent, "stage": stage}
        )

    def complete(self, result: AnalysisResult, now: datetime) -> JobEvent | None:
        if self.status.is_terminal or self.status is JobStatus.AWAITING_UPLOAD:
            return None
        return self._finish(result, now, {})

    def complete_from(self, source: Job, now: datetime) -> JobEvent:
        """Complete a queued job with the result of a completed job analysed from the same inputs."""
        if self.status is not JobStatus.QUEUED:
            raise ConflictError(f"the job is {self.status.value}; only a queued job can reuse a result")
        if source.status is not JobStatus.COMPLETED or source.result is None:
            raise ConflictError(
                f"job {source.id} is {source.status.value}; only a completed result is reused"
            )
        if self.inputs is None or source.inputs != self.inputs:
            raise ConflictError(f"job {source.id} was analysed from other inputs")
        self.reused_from = source.reused_from or source.id
        return self._finish(source.result, now, {"reused_from": str(self.reused_from)})

    def _finish(self, result: AnalysisResult, now: datetime, extra: dict[str, Any]) -> JobEvent:
        self.status, self.result, self.progress, self.stage = JobStatus.COMPLETED, result, 100, "done"
        data = {
            "status": self.status.value,
            "progress": 100,
            "overall": result.overall,
            "scores": result.scores,
        }
        return self._record(EventType.COMPLETED, now, {**data, **extra})

    def fail(self, code: FailureCode | str, reason: str, now: datetime) -> JobEvent | None:
        if self.status.is_terminal:
            return None
        self.status = JobStatus.FAILED
        self.failure_code, self.failure_reason = str(code), reason
        return self._record(
            EventType.FAILED, now, {"status": self.status.value, "code": self.failure_code, "reason": reason}
        )

    def cancel(self, now: datetime) -> JobEvent:
        if self.status.is_terminal:
            raise ConflictError(f"the job is {self.status.value} and can no longer be cancelled")
        self.status = JobStatus.CANCELLED
        return self._record(EventType.CANCELLED, now, {"status": self.status.value})

    def is_overdue(self, now: datetime) -> bool:
        return not self.status.is_terminal and self.deadline_at is not None and now >= self.deadline_at

    def _record(self, event_type: EventType, now: datetime, data: dict[str, Any]) -> JobEvent:
        self.last_sequence += 1
        self.updated_at = now
        event = JobEvent(self.id, self.last_sequence, event_type, data, now, self.user_id)
        self.pending_events.append(event)
        return event
