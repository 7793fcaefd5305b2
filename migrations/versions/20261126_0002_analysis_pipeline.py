"""analysis pipeline

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 05:56:31.109309+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from adapters.persistence import base as column_types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("response_headers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", column_types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("expires_at", column_types.DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(op.f("ix_idempotency_keys_expires_at"), "idempotency_keys", ["expires_at"], unique=False)
    op.create_table(
        "webhook_inbox",
        sa.Column("webhook_id", sa.String(length=256), nullable=False),
        sa.Column("job_id", column_types.GUID(length=16), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("received_at", column_types.DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("webhook_id", name=op.f("pk_webhook_inbox")),
    )
    op.create_index(op.f("ix_webhook_inbox_job_id"), "webhook_inbox", ["job_id"], unique=False)
    op.create_index(op.f("ix_webhook_inbox_received_at"), "webhook_inbox", ["received_at"], unique=False)
    op.create_table(
        "jobs",
        sa.Column("id", column_types.GUID(length=16), nullable=False),
        sa.Column("user_id", column_types.GUID(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("token_id", column_types.GUID(length=16), nullable=True),
        sa.Column("script_id", column_types.GUID(length=16), nullable=True),
        sa.Column("target_id", column_types.GUID(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("recording_key", sa.String(length=512), nullable=True),
        sa.Column("recording_content_type", sa.String(length=64), nullable=True),
        sa.Column("recording_duration", sa.Float(), nullable=True),
        sa.Column("recording_size", sa.Integer(), nullable=True),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=True),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("overall_score", sa.Float(), nullable=True),
        sa.Column("deadline_at", column_types.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", column_types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", column_types.DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('token', 'script')", name=op.f("ck_jobs_kind_known")),
        sa.CheckConstraint(
            "status IN ('awaiting_upload', 'queued', 'dispatched', 'processing', 'completed', 'failed', 'cancelled')",
            name=op.f("ck_jobs_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["script_id"], ["scripts.id"], name=op.f("fk_jobs_script_id_scripts"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["token_id"], ["tokens.id"], name=op.f("fk_jobs_token_id_tokens"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_jobs_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index(
        "ix_jobs_deadline_live",
        "jobs",
        ["deadline_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('queued', 'dispatched', 'processing')"),
    )
    op.create_index("ix_jobs_script_id", "jobs", ["script_id"], unique=False)
    op.create_index("ix_jobs_token_id", "jobs", ["token_id"], unique=False)
    op.create_index("ix_jobs_user_id_created_at", "jobs", ["user_id", "created_at"], unique=False)
    op.create_index("ix_jobs_user_id_status", "jobs", ["user_id", "status"], unique=False)
    op.create_table(
        "job_events",
        sa.Column("job_id", column_types.GUID(length=16), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", column_types.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_events_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "sequence", name=op.f("pk_job_events")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", column_types.GUID(length=16), nullable=False),
        sa.Column("job_id", column_types.GUID(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", column_types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sent_at", column_types.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", column_types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", column_types.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_outbox_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        "ix_outbox_due",
        "outbox",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_index(op.f("ix_outbox_job_id"), "outbox", ["job_id"], unique=False)
    op.create_index(
        "ix_outbox_sent_at",
        "outbox",
        ["sent_at"],
        unique=False,
        postgresql_where=sa.text("sent_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_sent_at", table_name="outbox", postgresql_where=sa.text("sent_at IS NOT NULL"))
    op.drop_index(op.f("ix_outbox_job_id"), table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox", postgresql_where=sa.text("sent_at IS NULL"))
    op.drop_table("outbox")
    op.drop_table("job_events")
    op.drop_index("ix_jobs_user_id_status", table_name="jobs")
    op.drop_index("ix_jobs_user_id_created_at", table_name="jobs")
    op.drop_index("ix_jobs_token_id", table_name="jobs")
    op.drop_index("ix_jobs_script_id", table_name="jobs")
    op.drop_index(
        "ix_jobs_deadline_live",
        table_name="jobs",
        postgresql_where=sa.text("status IN ('queued', 'dispatched', 'processing')"),
    )
    op.drop_table("jobs")
    op.drop_index(op.f("ix_webhook_inbox_received_at"), table_name="webhook_inbox")
    op.drop_index(op.f("ix_webhook_inbox_job_id"), table_name="webhook_inbox")
    op.drop_table("webhook_inbox")
    op.drop_index(op.f("ix_idempotency_keys_expires_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
