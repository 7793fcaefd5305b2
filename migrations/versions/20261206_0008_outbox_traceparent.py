"""outbox traceparent: the upload's W3C trace context, so the worker's dispatch continues its trace

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-06 05:10:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: rows written while tracing is off (and every row before this release) carry none.
    op.add_column("outbox", sa.Column("traceparent", sa.String(length=55), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "traceparent")
