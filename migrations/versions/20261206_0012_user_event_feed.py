"""user event feed: each job event's owner and its place in that user's feed, a per-user counter

Revision ID: 0012
Revises: 0013
Create Date: 2026-12-06 05:00:00+00:00

A user's live feed (GET /v1/notifications, GET /v1/events) resumes from a cursor: the event's
``feed_sequence``, 1, 2, ... per user without gaps, in commit order. A global identity column would not
do: ids are taken when rows are inserted, not when they commit, so a reader could see id 12 before a
slower transaction's id 11 commits and step over it. The counter row is locked from the events' insert
to the commit, so a user's sequence numbers become visible in order, like a job's ``sequence``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from adapters.persistence import base as column_types

revision: str = "0012"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_event_counters",
        sa.Column("user_id", column_types.GUID(length=16), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_event_counters_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_event_counters")),
    )
    op.add_column("job_events", sa.Column("user_id", column_types.GUID(length=16), nullable=True))
    op.add_column("job_events", sa.Column("feed_sequence", sa.BigInteger(), nullable=True))
    # Existing history joins each user's feed in the order it happened.
    op.execute(
        """
        UPDATE job_events AS e SET user_id = numbered.user_id, feed_sequence = numbered.position
        FROM (
            SELECT e2.job_id, e2.sequence, j.user_id,
                   row_number() OVER (
                       PARTITION BY j.user_id ORDER BY e2.created_at, e2.job_id, e2.sequence
                   ) AS position
            FROM job_events AS e2 JOIN jobs AS j ON j.id = e2.job_id
        ) AS numbered
        WHERE e.job_id = numbered.job_id AND e.sequence = numbered.sequence
        """
    )
    op.execute(
        "INSERT INTO user_event_counters (user_id, last_sequence) "
        "SELECT user_id, max(feed_sequence) FROM job_events GROUP BY user_id"
    )
    op.alter_column("job_events", "user_id", nullable=False)
    op.alter_column("job_events", "feed_sequence", nullable=False)
    op.create_index(
        "ix_job_events_user_id_feed_sequence", "job_events", ["user_id", "feed_sequence"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ix_job_events_user_id_feed_sequence", table_name="job_events")
    op.drop_column("job_events", "feed_sequence")
    op.drop_column("job_events", "user_id")
    op.drop_table("user_event_counters")
