"""aligned word timings: whether an item's word timings were computed by forced alignment, not given

Revision ID: 0013
Revises: 0006
Create Date: 2026-12-06 05:10:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "practice_items",
        sa.Column("words_aligned", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("practice_items", "words_aligned")
