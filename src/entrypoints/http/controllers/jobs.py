"""Recording uploads (multipart or direct to storage) and the user's analysis jobs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.openapi import ResponseSpec
from litestar.params import Body, FromPath, JSONBody, QueryParameter

from application.analysis.jobs import UserJobs
from application.analysis.uploads import RecordingUploads
from application.ports.idempotency import IdempotencyStore
from application.ports.persistence import JobFilter, PageRequest
from domain.accounts import Principal
from domain.analysis.jobs import JobStatus
from domain.catalog import ReferenceKind
from entrypoints.http.dependencies import Injected
from entrypoints.http.idempotency import idempotent
from entrypoints.http.job_schemas import DirectUploadBody, DirectUploadOut, JobOut, JobPage, UploadTarget
from entrypoints.http.rate_limits import limit_uploads
from entrypoints.http.security import Caller

MAX_UPLOAD_BODY = 64 * 1024 * 1024
IDEMPOTENCY_HEADER_DOC = (
    "Send an `Idempotency-Key` header to make retries safe: the same key and payload replay the first "
    "response, another payload under the key is 422, and a request still in flight is 409."
)


@dataclass
class RecordingForm:
    """Multipart form with the user's recording in the field ``file``."""

    file: UploadFile


Uploads = Injected[RecordingUploads]
Idempotency = Injected[IdempotencyStore]
RecordingUpload = Annotated[RecordingForm, Body(media_type=RequestEncodingType.MULTI_PART)]
JOB_RESPONSES = {202: ResponseSpec(data_container=JobOut, description="The job, queued for analysis")}


def _accepted(job_out: JobOut) -> tuple[int, JobOut, dict[str, str]]:
    return 202, job_out, {"Location": job_out.links.self}


async def _upload(
    request: Request[Any, Any, Any],
    uploads: RecordingUploads,
    idempotency: IdempotencyStore,
    principal: Principal,
    kind: ReferenceKind,
    target_id: UUID,
    form: RecordingForm,
) -> Response[bytes]:
    data = await form.file.read()

    async def produce() -> tuple[int, JobOut, dict[str, str]]:
        job = await uploads.upload(principal, kind, target_id, data)
        return _accepted(JobOut.of(job))

    return await idempotent(request, idempotency, principal, data, produce)


async def _direct(
    request: Request[Any, Any, Any],
    uploads: RecordingUploads,
    idempotency: IdempotencyStore,
    principal: Principal,
    kind: ReferenceKind,
    target_id: UUID,
    body: DirectUploadBody,
) -> Response[bytes]:
    async def produce() -> tuple[int, DirectUploadOut, dict[str, str]]:
        started = await uploads.start_direct_upload(principal, kind, target_id, body.content_type)
        job_out = JobOut.of(started.job)
        upload = UploadTarget(
            started.upload.url, started.upload.method, started.upload.headers, started.upload.expires_at
        )
        out = DirectUploadOut(job=job_out, upload=upload, submit=f"/jobs/{started.job.id}/submit")
        return 201, out, {"Location": job_out.links.self}

    payload = hashlib.sha256(body.content_type.encode()).digest()
    return await idempotent(request, idempotency, principal, payload, produce)


class UploadController(Controller):
    tags = ["analysis"]
    # Before the body is read: at most UPLOAD_RATE_LIMIT new jobs per user (429 with Retry-After).
    guards = [limit_uploads]

    @post(
        "/tokens/{token_id:uuid}/upload-audio",
        status_code=202,
        request_max_body_size=MAX_UPLOAD_BODY,
        responses=JOB_RESPONSES,
        description=IDEMPOTENCY_HEADER_DOC,
    )
    async def upload_token_recording(
        self, request: Request[Any, Any, Any], principal: Caller, uploads: Uploads, idempotency: Idempotency,
        token_id: FromPath[UUID], data: RecordingUpload,
    ) -> Response[bytes]:  # fmt: skip
        """Upload a recording of a token's line (multipart field ``file``); 202 with the queued job.

        The real format is sniffed from the bytes (WAV, WebM, Ogg, MP4/M4A, MP3, FLAC, AMR/3GP, CAF) and
        decoded before anything is stored: 413 too large, 415 not audio, 422 undecodable, too long or
        too short. A rejected upload leaves nothing behind.
        """
        return await _upload(request, uploads, idempotency, principal, ReferenceKind.TOKEN, token_id, data)

    @post(
        "/scripts/{script_id:uuid}/upload-audio",
        status_code=202,
        request_max_body_size=MAX_UPLOAD_BODY,
        responses=JOB_RESPONSES,
        description=IDEMPOTENCY_HEADER_DOC,
    )
    async def upload_script_recording(
        self, request: Request[Any, Any, Any], principal: Caller, uploads: Uploads, idempotency: Idempotency,
        script_id: FromPath[UUID], data: RecordingUpload,
    ) -> Response[bytes]:  # fmt: skip
        """Upload a reading of a script (multipart field ``file``); 202 with the queued job."""
        return await _upload(request, uploads, idempotency, principal, ReferenceKind.SCRIPT, script_id, data)

    @post("/tokens/{token_id:uuid}/uploads", status_code=201, description=IDEMPOTENCY_HEADER_DOC)
    async def start_token_direct_upload(
        self, request: Request[Any, Any, Any], principal: Caller, uploads: Uploads, idempotency: Idempotency,
        token_id: FromPath[UUID], data: JSONBody[DirectUploadBody],
    ) -> Response[bytes]:  # fmt: skip
        """Start a direct upload: a job awaiting its recording and a presigned PUT URL with its expiry.

        PUT the file to ``upload.url`` with ``upload.headers``, then POST ``submit``.
        """
        return await _direct(request, uploads, idempotency, principal, ReferenceKind.TOKEN, token_id, data)

    @post("/scripts/{script_id:uuid}/uploads", status_code=201, description=IDEMPOTENCY_HEADER_DOC)
    async def start_script_direct_upload(
        self, request: Request[Any, Any, Any], principal: Caller, uploads: Uploads, idempotency: Idempotency,
        script_id: FromPath[UUID], data: JSONBody[DirectUploadBody],
    ) -> Response[bytes]:  # fmt: skip
        """Start a direct upload of a script reading (see the token variant)."""
        return await _direct(request, uploads, idempotency, principal, ReferenceKind.SCRIPT, script_id, data)


class JobController(Controller):
    path = "/jobs"
    tags = ["analysis"]

    @get("/")
    async def list_jobs(
        self,
        jobs: Injected[UserJobs],
        principal: Caller,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0,
        kind: Annotated[ReferenceKind | None, QueryParameter(description="token or script")] = None,
        status: Annotated[JobStatus | None, QueryParameter(description="Only jobs in this status.")] = None,
    ) -> JobPage:
        """The caller's jobs, newest first."""
        page = await jobs.list_jobs(principal, JobFilter(kind, status), PageRequest(limit, offset))
        return JobPage.of(page)

    @get("/{job_id:uuid}")
    async def get_job(self, jobs: Injected[UserJobs], principal: Caller, job_id: FromPath[UUID]) -> JobOut:
        """One of the caller's jobs with its result once completed; another user's job is 404."""
        return JobOut.of(await jobs.get(principal, job_id))

    @post("/{job_id:uuid}/cancel", status_code=200)
    async def cancel_job(self, jobs: Injected[UserJobs], principal: Caller, job_id: FromPath[UUID]) -> JobOut:
        """Cancel a job that has not finished (409 once it has)."""
        return JobOut.of(await jobs.cancel(principal, job_id))

    @post(
        "/{job_id:uuid}/submit", status_code=202, responses=JOB_RESPONSES, description=IDEMPOTENCY_HEADER_DOC
    )
    async def submit_direct_upload(
        self,
        request: Request[Any, Any, Any],
        principal: Caller,
        uploads: Uploads,
        idempotency: Idempotency,
        job_id: FromPath[UUID],
    ) -> Response[bytes]:
        """Validate the object PUT through the presigned URL and queue the job (same checks as uploads)."""

        async def produce() -> tuple[int, JobOut, dict[str, str]]:
            return _accepted(JobOut.of(await uploads.submit(principal, job_id)))

        return await idempotent(request, idempotency, principal, job_id.bytes, produce)
