"""A resumable upload's state, fresh part URLs and completion; it starts at the practice item's
``multipart-uploads`` route and ends with the job's ``submit``."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post
from litestar.params import FromPath, Parameter

from application.analysis.resumable import ResumableUploads
from domain.analysis.multipart import MAX_PARTS
from entrypoints.http.dependencies import Injected
from entrypoints.http.multipart_schemas import MultipartUploadOut, PartUploadOut
from entrypoints.http.security import Caller

Resumable = Injected[ResumableUploads]


class MultipartUploadController(Controller):
    path = "/jobs/{job_id:uuid}/multipart"
    tags = ["analysis"]

    @get("/")
    async def get_multipart_upload(
        self, resumable_uploads: Resumable, principal: Caller, job_id: FromPath[UUID]
    ) -> MultipartUploadOut:
        """The parts that arrived whole (number, size, ETag) and fresh URLs for the rest: after a lost
        connection, send only those. Another user's upload is 404."""
        return MultipartUploadOut.of(await resumable_uploads.progress(principal, job_id))

    @get("/parts/{part_number:int}")
    async def get_part_upload(
        self,
        resumable_uploads: Resumable,
        principal: Caller,
        job_id: FromPath[UUID],
        part_number: Annotated[int, Parameter(ge=1, le=MAX_PARTS)],
    ) -> PartUploadOut:
        """A fresh URL for one part, to retry it after its URL expired; 422 past the upload's part count."""
        return PartUploadOut.of(await resumable_uploads.part_target(principal, job_id, part_number))

    @post("/complete", status_code=200)
    async def complete_multipart_upload(
        self, resumable_uploads: Resumable, principal: Caller, job_id: FromPath[UUID]
    ) -> MultipartUploadOut:
        """Assemble the parts into the recording. 409 ``upload-incomplete`` names the parts missing or
        not of their declared size (PUT them, then complete again); 409 once completed. Then POST
        ``links.submit``, which validates the recording like any upload and queues the job."""
        return MultipartUploadOut.of(await resumable_uploads.complete(principal, job_id))
