"""analysis reuse: each job's analysis inputs (recording SHA-256, reference and feature versions) and
the job whose result it reused

Revision ID: 0006
Revises: 0007
Create Date: 2026-12-06 05:10:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Jobs from before have no inputs recorded: they are never reused (nothing to match them on).
    op.add_column("jobs", sa.Column("recording_sha256", sa.String(length=64), nullable=True))
    op.add_column("jobs", sa.Column("reference_version", sa.String(length=64), nullable=True))
    op.add_column("jobs", sa.Column("feature_version", sa.String(length=64), nullable=True))
    op.add_column("jobs", sa.Column("reused_from", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_jobs_reused_from_jobs"), "jobs", "jobs", ["reused_from"], ["id"], ondelete="SET NULL"
    )
    op.create_index(
        "ix_jobs_reusable",
        "jobs",
        ["user_id", "item_id", "recording_sha256"],
        postgresql_where=sa.text("status = 'completed'"),
    )
    op.create_index(
        "ix_jobs_reused_from", "jobs", ["reused_from"], postgresql_where=sa.text("reused_from IS NOT NULL")
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_reused_from", table_name="jobs")
    op.drop_index("ix_jobs_reusable", table_name="jobs")
    op.drop_constraint(op.f("fk_jobs_reused_from_jobs"), "jobs", type_="foreignkey")
    op.drop_column("jobs", "reused_from")
    op.drop_column("jobs", "feature_version")
    op.drop_column("jobs", "reference_version")
    op.drop_column("jobs", "recording_sha256")
