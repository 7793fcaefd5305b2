"""multipart uploads: the resumable upload of a job's recording, kept until its job ends

Revision ID: 0007
Revises: 0008
Create Date: 2026-12-06 05:10:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from adapters.persistence import base as column_types

revision: str = "0007"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "multipart_uploads",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("storage_upload_id", sa.String(length=1024), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("total_bytes", sa.BigInteger(), nullable=False),
        sa.Column("part_bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", column_types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("completed_at", column_types.DateTimeUTC(timezone=True), nullable=True),
        sa.CheckConstraint(
            "total_bytes > 0 AND part_bytes > 0", name=op.f("ck_multipart_uploads_sizes_positive")
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_multipart_uploads_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_multipart_uploads")),
    )


def downgrade() -> None:
    op.drop_table("multipart_uploads")
