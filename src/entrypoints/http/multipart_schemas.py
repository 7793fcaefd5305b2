"""Resumable (multipart) uploads as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from application.analysis.resumable import PartTarget, ResumableUpload
from domain.analysis.multipart import DEFAULT_PART_BYTES, MAX_PART_BYTES, MIN_PART_BYTES
from entrypoints.http.job_schemas import DirectUploadBody, JobOut, UploadTarget
from entrypoints.http.versioning import API_V1


class MultipartUploadBody(DirectUploadBody, forbid_unknown_fields=True):
    part_size_bytes: Annotated[
        int,
        Meta(
            ge=MIN_PART_BYTES,
            le=MAX_PART_BYTES,
            description="Every part but the last is exactly this size; the last holds the rest.",
        ),
    ] = DEFAULT_PART_BYTES


class PartUploadOut(msgspec.Struct):
    """PUT exactly ``size_bytes`` of the recording (from ``(number - 1) * part_size_bytes``) to
    ``upload.url`` with ``upload.headers``; the server lists the ETags itself."""

    number: int
    size_bytes: int
    upload: UploadTarget

    @classmethod
    def of(cls, target: PartTarget) -> PartUploadOut:
        url = target.upload
        return cls(target.number, target.size, UploadTarget(url.url, url.method, url.headers, url.expires_at))


class ArrivedPartOut(msgspec.Struct):
    number: int
    size_bytes: int
    etag: str


class MultipartLinks(msgspec.Struct):
    self: Annotated[str, Meta(description="GET: the parts that arrived, fresh URLs for the rest")]
    complete: Annotated[str, Meta(description="POST once every part arrived: assembles the recording")]
    submit: Annotated[str, Meta(description="POST after completing: validates the recording, queues the job")]


class MultipartUploadOut(msgspec.Struct):
    job: JobOut
    content_type: str
    size_bytes: int
    part_size_bytes: int
    part_count: int
    completed_at: datetime | None
    arrived: list[ArrivedPartOut]
    to_send: Annotated[list[PartUploadOut], Meta(description="The parts still to PUT, with fresh URLs")]
    links: MultipartLinks

    @classmethod
    def of(cls, state: ResumableUpload) -> MultipartUploadOut:
        upload, base = state.upload, f"{API_V1}/jobs/{state.job.id}"
        return cls(
            job=JobOut.of(state.job),
            content_type=upload.content_type,
            size_bytes=upload.plan.total_bytes,
            part_size_bytes=upload.plan.part_bytes,
            part_count=upload.plan.part_count,
            completed_at=upload.completed_at,
            arrived=[ArrivedPartOut(part.number, part.size, part.etag) for part in state.arrived],
            to_send=[PartUploadOut.of(target) for target in state.to_send],
            links=MultipartLinks(f"{base}/multipart", f"{base}/multipart/complete", f"{base}/submit"),
        )
