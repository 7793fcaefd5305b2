"""SQLAlchemy tables. Only the persistence adapter sees these; use cases see domain objects."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from adapters.persistence.base import DateTimeUTC, DefaultBase, UUIDv7AuditBase

# "analysis_failed:" (16 characters) and an analysis server's code (up to 64, docs/analysis-protocol.md).
FAILURE_CODE_LENGTH = 80


def trigram_index(name: str, column: str) -> Index:
    """A GIN trigram index, so that substring search (ILIKE '%term%') on the column uses an index."""
    return Index(name, column, postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"})


class UserRow(UUIDv7AuditBase):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), index=True)

    __table_args__ = (CheckConstraint("role IN ('user', 'admin')", name="role_known"),)


class ActorRow(UUIDv7AuditBase):
    __tablename__ = "actors"

    name: Mapped[str] = mapped_column(String(200))
    bio: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (trigram_index("ix_actors_name_trgm", "name"),)


class ReferenceAudioColumns:
    reference_audio_key: Mapped[str | None] = mapped_column(String(512), default=None)
    reference_audio_content_type: Mapped[str | None] = mapped_column(String(64), default=None)
    reference_audio_duration: Mapped[float | None] = mapped_column(Float, default=None)


class PracticeItemRow(ReferenceAudioColumns, UUIDv7AuditBase):
    """A movie line (kind token) or a script; its detail row says what the kind adds."""

    __tablename__ = "practice_items"

    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    feature_config_version: Mapped[str | None] = mapped_column(String(32), default=None)
    words_aligned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    words: Mapped[list[WordRow]] = relationship(
        lazy="raise", order_by="WordRow.index", cascade="all, delete-orphan", passive_deletes=True
    )
    movie_line: Mapped[MovieLineRow | None] = relationship(
        lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )
    script: Mapped[ScriptDetailRow | None] = relationship(
        lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        CheckConstraint("kind IN ('token', 'script')", name="kind_known"),
        trigram_index("ix_practice_items_text_trgm", "text"),
    )


class ItemDetailColumns:
    """A detail row shares the id of its practice item and goes with it."""

    item_id: Mapped[UUID] = mapped_column(
        ForeignKey("practice_items.id", ondelete="CASCADE"), primary_key=True
    )


class MovieLineRow(ItemDetailColumns, DefaultBase):
    """The detail of a token: who speaks the line, in which movie."""

    __tablename__ = "movie_lines"

    actor_id: Mapped[UUID] = mapped_column(ForeignKey("actors.id", ondelete="RESTRICT"), index=True)
    movie_title: Mapped[str] = mapped_column(String(200), index=True)
    movie_year: Mapped[int | None] = mapped_column(Integer, default=None)

    actor: Mapped[ActorRow] = relationship(lazy="raise")

    __table_args__ = (trigram_index("ix_movie_lines_movie_title_trgm", "movie_title"),)


class ScriptDetailRow(ItemDetailColumns, DefaultBase):
    """The detail of a script: its title."""

    __tablename__ = "script_details"

    title: Mapped[str] = mapped_column(String(200), index=True)

    __table_args__ = (trigram_index("ix_script_details_title_trgm", "title"),)


class WordRow(UUIDv7AuditBase):
    """A timed word of a practice item's reference audio."""

    __tablename__ = "words"

    item_id: Mapped[UUID] = mapped_column(ForeignKey("practice_items.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(100))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    reference_features: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)

    __table_args__ = (
        CheckConstraint('"end" > start AND start >= 0', name="positive_span"),
        Index("uq_words_item_index", "item_id", "index", unique=True),
    )


class BookmarkRow(UUIDv7AuditBase):
    __tablename__ = "bookmarks"

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    item_id: Mapped[UUID] = mapped_column(ForeignKey("practice_items.id", ondelete="CASCADE"))
    bookmarked_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))

    item: Mapped[PracticeItemRow] = relationship(lazy="raise")

    __table_args__ = (
        Index("uq_bookmarks_user_item", "user_id", "item_id", unique=True),
        Index("ix_bookmarks_item_id", "item_id"),
    )


class JobRow(UUIDv7AuditBase):
    __tablename__ = "jobs"

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    # Jobs outlive their item (the user's history keeps its scores); the kind stays on the job.
    item_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("practice_items.id", ondelete="SET NULL"), default=None
    )
    status: Mapped[str] = mapped_column(String(24))
    recording_key: Mapped[str | None] = mapped_column(String(512), default=None)
    recording_content_type: Mapped[str | None] = mapped_column(String(64), default=None)
    recording_duration: Mapped[float | None] = mapped_column(Float, default=None)
    recording_size: Mapped[int | None] = mapped_column(Integer, default=None)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    stage: Mapped[str | None] = mapped_column(String(32), default=None)
    failure_code: Mapped[str | None] = mapped_column(String(FAILURE_CODE_LENGTH), default=None)
    failure_reason: Mapped[str | None] = mapped_column(Text, default=None)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)
    overall_score: Mapped[float | None] = mapped_column(Float, default=None)
    deadline_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    last_sequence: Mapped[int] = mapped_column(Integer, default=0)
    # What the result is a function of (domain.analysis.jobs.AnalysisInputs), set once the recording is in.
    recording_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    reference_version: Mapped[str | None] = mapped_column(String(64), default=None)
    feature_version: Mapped[str | None] = mapped_column(String(64), default=None)
    reused_from: Mapped[UUID | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), default=None)

    __table_args__ = (
        CheckConstraint("kind IN ('token', 'script')", name="kind_known"),
        CheckConstraint(
            "status IN ('awaiting_upload', 'queued', 'dispatched', 'processing', 'completed', 'failed', 'cancelled')",
            name="status_known",
        ),
        Index("ix_jobs_user_id_created_at", "user_id", "created_at"),
        Index("ix_jobs_user_id_status", "user_id", "status"),
        Index("ix_jobs_item_id", "item_id"),
        Index(
            "ix_jobs_deadline_live",
            "deadline_at",
            postgresql_where=sql_text("status IN ('awaiting_upload', 'queued', 'dispatched', 'processing')"),
        ),
        # Finding a completed analysis of the same bytes for the same user and item.
        Index(
            "ix_jobs_reusable",
            "user_id",
            "item_id",
            "recording_sha256",
            postgresql_where=sql_text("status = 'completed'"),
        ),
        # Deleting a job sets reused_from to null in the jobs that reused its result.
        Index("ix_jobs_reused_from", "reused_from", postgresql_where=sql_text("reused_from IS NOT NULL")),
    )


class JobEventRow(DefaultBase):
    """Append-only history of a job; (job_id, sequence) is the SSE event id's source, and
    (user_id, feed_sequence) the cursor of its owner's feed."""

    __tablename__ = "job_events"

    job_id: Mapped[UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(24))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    user_id: Mapped[UUID] = mapped_column()
    feed_sequence: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_job_events_user_id_feed_sequence", "user_id", "feed_sequence", unique=True),)


class UserEventCounterRow(DefaultBase):
    """The last feed_sequence given to a user's events; its row lock orders them by commit."""

    __tablename__ = "user_event_counters"

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    last_sequence: Mapped[int] = mapped_column(BigInteger)


class OutboxRow(UUIDv7AuditBase):
    __tablename__ = "outbox"

    job_id: Mapped[UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    # W3C trace context: version, trace id, span id and flags, 55 characters.
    traceparent: Mapped[str | None] = mapped_column(String(55), default=None)
    # The advisory lock id of the worker whose lease this is (adapters/persistence/lease_holders.py);
    # None when nobody holds it.
    leased_by: Mapped[int | None] = mapped_column(Integer, default=None)

    __table_args__ = (
        # The sweep's query: unsent rows by due time. Sent rows drop out of this partial index.
        Index("ix_outbox_due", "next_attempt_at", postgresql_where=sql_text("sent_at IS NULL")),
        Index("ix_outbox_sent_at", "sent_at", postgresql_where=sql_text("sent_at IS NOT NULL")),
    )


class WebhookInboxRow(DefaultBase):
    """Webhook ids already applied; the primary key makes a repeated delivery a no-op."""

    __tablename__ = "webhook_inbox"

    webhook_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    job_id: Mapped[UUID] = mapped_column(index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), index=True)


class IdempotencyKeyRow(DefaultBase):
    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16))
    response_status: Mapped[int | None] = mapped_column(Integer, default=None)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSONB, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), index=True)


class JobWordResultRow(DefaultBase):
    """Per-word results of a completed script (or token) analysis."""

    __tablename__ = "job_word_results"

    job_id: Mapped[UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(String(100))
    start: Mapped[float | None] = mapped_column(Float, default=None)
    end: Mapped[float | None] = mapped_column(Float, default=None)
    score: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))

    __table_args__ = (CheckConstraint("status IN ('ok', 'mispronounced', 'omitted')", name="status_known"),)


class MultipartUploadRow(DefaultBase):
    """The resumable upload of a job's recording, until its job ends (the sweep then drops the row)."""

    __tablename__ = "multipart_uploads"

    job_id: Mapped[UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    storage_upload_id: Mapped[str] = mapped_column(String(1024))
    key: Mapped[str] = mapped_column(String(512))
    content_type: Mapped[str] = mapped_column(String(100))  # as long as the request may declare
    total_bytes: Mapped[int] = mapped_column(BigInteger)
    part_bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    __table_args__ = (CheckConstraint("total_bytes > 0 AND part_bytes > 0", name="sizes_positive"),)
