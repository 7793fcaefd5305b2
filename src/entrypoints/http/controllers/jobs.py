"""The user's analysis jobs; recordings are uploaded through the practice item routes."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, QueryParameter

from application.analysis.jobs import UserJobs
from application.ports.persistence import JobFilter, PageRequest
from domain.analysis.jobs import JobStatus
from domain.catalog import ReferenceKind
from entrypoints.http.conditional import (
    FINISHED_JOB_CACHE_CONTROL,
    UNFINISHED_JOB_CACHE_CONTROL,
    conditional_json,
)
from entrypoints.http.controllers.practice_items import (
    IDEMPOTENCY_HEADER_DOC,
    JOB_RESPONSES,
    REUSE_DOC,
    Idempotency,
    Reuse,
    Uploads,
    accepted,
    reuse_payload,
)
from entrypoints.http.dependencies import Injected
from entrypoints.http.idempotency import idempotent
from entrypoints.http.job_schemas import JobOut, JobPage
from entrypoints.http.security import Caller

JOB_READ_RESPONSES = {
    200: ResponseSpec(data_container=JobOut, description="The job"),
    304: ResponseSpec(data_container=None, description="Unchanged since the ETag in If-None-Match"),
}


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
        return JobPage.of(page, JobOut.of)

    @get("/{job_id:uuid}", responses=JOB_READ_RESPONSES)
    async def get_job(
        self,
        request: Request[Any, Any, Any],
        jobs: Injected[UserJobs],
        principal: Caller,
        job_id: FromPath[UUID],
    ) -> Response[bytes]:
        """One of the caller's jobs with its result once completed; another user's job is 404.

        With an ETag: a finished job's answer never changes and may be reused (`Cache-Control: private,
        max-age=86400`); send `If-None-Match` to get 304 while the job is unchanged."""
        job = await jobs.get(principal, job_id)
        cache_control = FINISHED_JOB_CACHE_CONTROL if job.status.is_terminal else UNFINISHED_JOB_CACHE_CONTROL
        return conditional_json(request, JobOut.of(job), cache_control)

    @post("/{job_id:uuid}/cancel", status_code=200)
    async def cancel_job(self, jobs: Injected[UserJobs], principal: Caller, job_id: FromPath[UUID]) -> JobOut:
        """Cancel a job that has not finished (409 once it has)."""
        return JobOut.of(await jobs.cancel(principal, job_id))

    @post(
        "/{job_id:uuid}/submit",
        status_code=202,
        responses=JOB_RESPONSES,
        description=f"{REUSE_DOC}\n\n{IDEMPOTENCY_HEADER_DOC}",
    )
    async def submit_direct_upload(
        self,
        request: Request[Any, Any, Any],
        principal: Caller,
        uploads: Uploads,
        idempotency: Idempotency,
        job_id: FromPath[UUID],
        reuse: Reuse = True,
    ) -> Response[bytes]:
        """Validate the object PUT through the presigned URL and queue the job (same checks as uploads)."""

        async def produce() -> tuple[int, JobOut, dict[str, str]]:
            return accepted(JobOut.of(await uploads.submit(principal, job_id, reuse=reuse)))

        return await idempotent(request, idempotency, principal, reuse_payload(job_id.bytes, reuse), produce)
