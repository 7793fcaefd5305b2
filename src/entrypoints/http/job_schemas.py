"""Job resources as the API shows them."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from msgspec import Meta

from application.ports.persistence import JobStats
from application.ports.security import AccessToken
from domain.analysis.jobs import Job
from entrypoints.http.pages import PageOut
from entrypoints.http.versioning import API_V1


class RecordingOut(msgspec.Struct):
    content_type: str
    duration_seconds: float
    size: int


class FailureOut(msgspec.Struct):
    code: str
    reason: str


class JobLinks(msgspec.Struct):
    self: str
    events: str


class JobOut(msgspec.Struct):
    id: UUID
    kind: str
    target_id: Annotated[
        UUID | None, Meta(description="The token's or script's id; null once an admin deleted it.")
    ]
    status: str
    progress: int
    stage: str | None
    created_at: datetime
    updated_at: datetime
    links: JobLinks
    recording: RecordingOut | None = None
    failure: FailureOut | None = None
    result: dict[str, Any] | None = None
    reused_from: Annotated[
        UUID | None,
        Meta(
            description="The job whose analysis of the same recording (same bytes, reference and feature "
            "version) gave this job's result, instead of a new analysis; null when analysed itself."
        ),
    ] = None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls(
            id=job.id,
            kind=job.kind.value,
            target_id=job.item_id,
            status=job.status.value,
            progress=job.progress,
            stage=job.stage,
            created_at=job.created_at,
            updated_at=job.updated_at,
            links=JobLinks(self=f"{API_V1}/jobs/{job.id}", events=f"{API_V1}/jobs/{job.id}/events"),
            recording=RecordingOut(
                job.recording.content_type, job.recording.duration_seconds, job.recording.size
            )
            if job.recording
            else None,
            failure=FailureOut(job.failure_code or "unknown", job.failure_reason or "")
            if job.failure_code
            else None,
            result=asdict(job.result) if job.result else None,
            reused_from=job.reused_from,
        )


class JobPage(PageOut[JobOut]):
    """A page of the caller's jobs."""


class DirectUploadBody(msgspec.Struct, forbid_unknown_fields=True):
    content_type: Annotated[str, Meta(min_length=3, max_length=100, examples=["audio/webm"])]
    size_bytes: Annotated[
        int,
        Meta(
            gt=0,
            le=2**40,
            examples=[482133],
            description="The recording's exact size: the upload URL is signed for it (413 past the kind's limit).",
        ),
    ]


class UploadTarget(msgspec.Struct):
    url: str
    method: str
    headers: dict[str, str]
    expires_at: datetime


class DirectUploadOut(msgspec.Struct):
    job: JobOut
    upload: UploadTarget
    submit: str


class StatsOut(msgspec.Struct):
    count: int
    completed: int
    average_overall: float | None
    best_overall: float | None

    @classmethod
    def of(cls, stats: JobStats) -> StatsOut:
        return cls(stats.count, stats.completed, stats.average_overall, stats.best_overall)


class HistoryOut(msgspec.Struct):
    stats: StatsOut
    recent: JobPage


class StreamTicketOut(msgspec.Struct):
    """A credential for one job's event stream, for the ``ticket`` query parameter."""

    ticket: str
    expires_in: int
    url: str

    @classmethod
    def of(cls, job_id: UUID, issued: AccessToken) -> StreamTicketOut:
        return cls(
            issued.token, issued.expires_in_seconds, f"{API_V1}/jobs/{job_id}/events?ticket={issued.token}"
        )
