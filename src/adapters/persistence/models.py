"""SQLAlchemy tables. Only the persistence adapter sees these; use cases see domain objects."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.base import UUIDv7AuditBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship


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

    __table_args__ = (
        Index("ix_actors_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}),
    )


class ReferenceAudioColumns:
    reference_audio_key: Mapped[str | None] = mapped_column(String(512), default=None)
    reference_audio_content_type: Mapped[str | None] = mapped_column(String(64), default=None)
    reference_audio_duration: Mapped[float | None] = mapped_column(Float, default=None)


class TokenRow(ReferenceAudioColumns, UUIDv7AuditBase):
    __tablename__ = "tokens"

    actor_id: Mapped[UUID] = mapped_column(ForeignKey("actors.id", ondelete="RESTRICT"), index=True)
    movie_title: Mapped[str] = mapped_column(String(200), index=True)
    movie_year: Mapped[int | None] = mapped_column(Integer, default=None)
    text: Mapped[str] = mapped_column(Text)

    actor: Mapped[ActorRow] = relationship(lazy="raise")
    words: Mapped[list[WordRow]] = relationship(
        lazy="raise",
        order_by="WordRow.index",
        cascade="all, delete-orphan",
        passive_deletes=True,
        foreign_keys="WordRow.token_id",
    )

    __table_args__ = (
        Index("ix_tokens_text_trgm", "text", postgresql_using="gin", postgresql_ops={"text": "gin_trgm_ops"}),
        Index(
            "ix_tokens_movie_title_trgm",
            "movie_title",
            postgresql_using="gin",
            postgresql_ops={"movie_title": "gin_trgm_ops"},
        ),
    )


class ScriptRow(ReferenceAudioColumns, UUIDv7AuditBase):
    __tablename__ = "scripts"

    title: Mapped[str] = mapped_column(String(200), index=True)
    text: Mapped[str] = mapped_column(Text)
    feature_config_version: Mapped[str | None] = mapped_column(String(32), default=None)

    words: Mapped[list[WordRow]] = relationship(
        lazy="raise",
        order_by="WordRow.index",
        cascade="all, delete-orphan",
        passive_deletes=True,
        foreign_keys="WordRow.script_id",
    )

    __table_args__ = (
        Index(
            "ix_scripts_title_trgm", "title", postgresql_using="gin", postgresql_ops={"title": "gin_trgm_ops"}
        ),
        Index(
            "ix_scripts_text_trgm", "text", postgresql_using="gin", postgresql_ops={"text": "gin_trgm_ops"}
        ),
    )


class WordRow(UUIDv7AuditBase):
    """A timed word of a token's or a script's reference audio (exactly one owner)."""

    __tablename__ = "words"

    token_id: Mapped[UUID | None] = mapped_column(ForeignKey("tokens.id", ondelete="CASCADE"), default=None)
    script_id: Mapped[UUID | None] = mapped_column(ForeignKey("scripts.id", ondelete="CASCADE"), default=None)
    index: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(100))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    reference_features: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)

    __table_args__ = (
        CheckConstraint("num_nonnulls(token_id, script_id) = 1", name="one_owner"),
        CheckConstraint('"end" > start AND start >= 0', name="positive_span"),
        Index(
            "uq_words_token_index",
            "token_id",
            "index",
            unique=True,
            postgresql_where=sql_text("token_id IS NOT NULL"),
        ),
        Index(
            "uq_words_script_index",
            "script_id",
            "index",
            unique=True,
            postgresql_where=sql_text("script_id IS NOT NULL"),
        ),
    )


class BookmarkRow(UUIDv7AuditBase):
    __tablename__ = "bookmarks"

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_id: Mapped[UUID | None] = mapped_column(ForeignKey("tokens.id", ondelete="CASCADE"), default=None)
    script_id: Mapped[UUID | None] = mapped_column(ForeignKey("scripts.id", ondelete="CASCADE"), default=None)
    bookmarked_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))

    token: Mapped[TokenRow | None] = relationship(lazy="raise")
    script: Mapped[ScriptRow | None] = relationship(lazy="raise")

    __table_args__ = (
        CheckConstraint("num_nonnulls(token_id, script_id) = 1", name="one_target"),
        Index(
            "uq_bookmarks_user_token",
            "user_id",
            "token_id",
            unique=True,
            postgresql_where=sql_text("token_id IS NOT NULL"),
        ),
        Index(
            "uq_bookmarks_user_script",
            "user_id",
            "script_id",
            unique=True,
            postgresql_where=sql_text("script_id IS NOT NULL"),
        ),
        Index("ix_bookmarks_user_id", "user_id"),
        Index("ix_bookmarks_token_id", "token_id"),
        Index("ix_bookmarks_script_id", "script_id"),
    )
