"""failure codes wide enough for an analysis server's 64-character code behind "analysis_failed:"

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-06 03:10:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("jobs", "failure_code", type_=sa.String(length=80), existing_nullable=True)


def downgrade() -> None:
    # Codes longer than the old column are cut rather than failing the downgrade.
    op.execute("UPDATE jobs SET failure_code = left(failure_code, 64) WHERE length(failure_code) > 64")
    op.alter_column("jobs", "failure_code", type_=sa.String(length=64), existing_nullable=True)
