"""Postgres repository of resumable (multipart) uploads."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.persistence.models import JobRow, MultipartUploadRow
from domain.analysis.jobs import JobStatus
from domain.analysis.multipart import MultipartUpload, PartPlan

_TERMINAL_STATUSES = [status.value for status in JobStatus if status.is_terminal]


def _upload_from_row(row: MultipartUploadRow) -> MultipartUpload:
    return MultipartUpload(
        job_id=row.job_id,
        storage_upload_id=row.storage_upload_id,
        key=row.key,
        content_type=row.content_type,
        plan=PartPlan(row.total_bytes, row.part_bytes),
        created_at=row.created_at,
        completed_at=row.completed_at,
    )


class SqlaMultipartUploadRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, upload: MultipartUpload) -> None:
        self._session.add(
            MultipartUploadRow(
                job_id=upload.job_id,
                storage_upload_id=upload.storage_upload_id,
                key=upload.key,
                content_type=upload.content_type,
                total_bytes=upload.plan.total_bytes,
                part_bytes=upload.plan.part_bytes,
                created_at=upload.created_at,
                completed_at=upload.completed_at,
            )
        )
        await self._session.flush()

    async def get(self, job_id: UUID) -> MultipartUpload | None:
        row = await self._session.get(MultipartUploadRow, job_id)
        return _upload_from_row(row) if row else None

    async def get_for_update(self, job_id: UUID) -> MultipartUpload | None:
        row = await self._session.scalar(
            select(MultipartUploadRow)
            .where(MultipartUploadRow.job_id == job_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return _upload_from_row(row) if row else None

    async def save(self, upload: MultipartUpload) -> None:
        row = await self._session.get_one(MultipartUploadRow, upload.job_id)
        row.completed_at = upload.completed_at
        await self._session.flush()

    async def remove(self, job_id: UUID) -> None:
        await self._session.execute(delete(MultipartUploadRow).where(MultipartUploadRow.job_id == job_id))

    async def of_finished_jobs(self, limit: int) -> list[MultipartUpload]:
        rows = await self._session.scalars(
            select(MultipartUploadRow)
            .join(JobRow, JobRow.id == MultipartUploadRow.job_id)
            .where(JobRow.status.in_(_TERMINAL_STATUSES))
            .order_by(MultipartUploadRow.created_at)
            .limit(limit)
        )
        return [_upload_from_row(row) for row in rows]
