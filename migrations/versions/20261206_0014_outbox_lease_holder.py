"""outbox lease holder: which worker leased a row, so a dead worker's rows are claimed again at once

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-06 09:35:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: a row nobody holds (never claimed, or marked since) and every row before this release.
    op.add_column("outbox", sa.Column("leased_by", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "leased_by")
