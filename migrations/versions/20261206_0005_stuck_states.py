"""stuck states: failure codes wide enough for a server's 64-character code, a deadline on every live job

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 03:10:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "status IN ('queued', 'dispatched', 'processing')"
LIVE_WITH_UPLOADS = "status IN ('awaiting_upload', 'queued', 'dispatched', 'processing')"


def _deadline_index(where: str) -> None:
    op.drop_index("ix_jobs_deadline_live", table_name="jobs")
    op.create_index("ix_jobs_deadline_live", "jobs", ["deadline_at"], postgresql_where=sa.text(where))


def upgrade() -> None:
    op.alter_column("jobs", "failure_code", type_=sa.String(length=80), existing_nullable=True)
    # Jobs waiting before this release had no deadline; they get the defaults from now on.
    op.execute(
        "UPDATE jobs SET deadline_at = now() + interval '20 minutes' "
        "WHERE status = 'awaiting_upload' AND deadline_at IS NULL"
    )
    op.execute(
        "UPDATE jobs SET deadline_at = now() + interval '1 hour' WHERE status = 'queued' AND deadline_at IS NULL"
    )
    _deadline_index(LIVE_WITH_UPLOADS)


def downgrade() -> None:
    _deadline_index(LIVE)
    # Codes longer than the old column are cut rather than failing the downgrade.
    op.execute("UPDATE jobs SET failure_code = left(failure_code, 64) WHERE length(failure_code) > 64")
    op.alter_column("jobs", "failure_code", type_=sa.String(length=64), existing_nullable=True)
