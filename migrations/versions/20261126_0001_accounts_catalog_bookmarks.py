"""accounts, catalog and bookmarks

Revision ID: 0001
Revises:
Create Date: 2026-11-26 05:45:39.395140+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from adapters.persistence import base as column_types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Trigram indexes make the catalog's substring search (ILIKE '%term%') use an index.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "actors",
        sa.Column("id", column_types.GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("bio", sa.Text(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", column_types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", column_types.DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_actors")),
    )
    op.create_index(
        "ix_actors_name_trgm",
        "actors",
        ["name"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    op.create_table(
        "scripts",
        sa.Column("id", column_types.GUID(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("feature_config_version", sa.String(length=32), nullable=True),
        sa.Column("reference_audio_key", sa.String(length=512), nullable=True),
        sa.Column("reference_audio_content_type", sa.String(length=64), nullable=True),
        sa.Column("reference_audio_duration", sa.Float(), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", column_types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", column_types.DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scripts")),
    )
    op.create_index(
        "ix_scripts_text_trgm",
        "scripts",
        ["text"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"text": "gin_trgm_ops"},
    )
    op.create_index(op.f("ix_scripts_title"), "scripts", ["title"], unique=False)
    op.create_index(
        "ix_scripts_title_trgm",
        "scripts",
        ["title"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"title": "gin_trgm_ops"},
    )
    op.create_table(
        "users",
        sa.Column("id", column_types.GUID(length=16), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("display_name", sa.String(length=80), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", column_types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", column_types.DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('user', 'admin')", name=op.f("ck_users_role_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_index(op.f("ix_users_role"), "users", ["role"], unique=False)
    op.create_table(
        "tokens",
        sa.Column("id", column_types.GUID(length=16), nullable=False),
        sa.Column("actor_id", column_types.GUID(length=16), nullable=False),
        sa.Column("movie_title", sa.String(length=200), nullable=False),
        sa.Column("movie_year", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("reference_audio_key", sa.String(length=512), nullable=True),
        sa.Column("reference_audio_content_type", sa.String(length=64), nullable=True),
        sa.Column("reference_audio_duration", sa.Float(), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", column_types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", column_types.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["actors.id"], name=op.f("fk_tokens_actor_id_actors"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
    )
    op.create_index(op.f("ix_tokens_actor_id"), "tokens", ["actor_id"], unique=False)
    op.create_index(op.f("ix_tokens_movie_title"), "tokens", ["movie_title"], unique=False)
    op.create_index(
        "ix_tokens_movie_title_trgm",
        "tokens",
        ["movie_title"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"movie_title": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_tokens_text_trgm",
        "tokens",
        ["text"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"text": "gin_trgm_ops"},
    )
    op.create_table(
        "bookmarks",
        sa.Column("id", column_types.GUID(length=16), nullable=False),
        sa.Column("user_id", column_types.GUID(length=16), nullable=False),
        sa.Column("token_id", column_types.GUID(length=16), nullable=True),
        sa.Column("script_id", column_types.GUID(length=16), nullable=True),
        sa.Column("bookmarked_at", column_types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", column_types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", column_types.DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint("num_nonnulls(token_id, script_id) = 1", name=op.f("ck_bookmarks_one_target")),
        sa.ForeignKeyConstraint(
            ["script_id"], ["scripts.id"], name=op.f("fk_bookmarks_script_id_scripts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["token_id"], ["tokens.id"], name=op.f("fk_bookmarks_token_id_tokens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_bookmarks_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookmarks")),
    )
    op.create_index("ix_bookmarks_script_id", "bookmarks", ["script_id"], unique=False)
    op.create_index("ix_bookmarks_token_id", "bookmarks", ["token_id"], unique=False)
    op.create_index("ix_bookmarks_user_id", "bookmarks", ["user_id"], unique=False)
    op.create_index(
        "uq_bookmarks_user_script",
        "bookmarks",
        ["user_id", "script_id"],
        unique=True,
        postgresql_where=sa.text("script_id IS NOT NULL"),
    )
    op.create_index(
        "uq_bookmarks_user_token",
        "bookmarks",
        ["user_id", "token_id"],
        unique=True,
        postgresql_where=sa.text("token_id IS NOT NULL"),
    )
    op.create_table(
        "words",
        sa.Column("id", column_types.GUID(length=16), nullable=False),
        sa.Column("token_id", column_types.GUID(length=16), nullable=True),
        sa.Column("script_id", column_types.GUID(length=16), nullable=True),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=100), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("reference_features", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", column_types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", column_types.DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint('"end" > start AND start >= 0', name=op.f("ck_words_positive_span")),
        sa.CheckConstraint("num_nonnulls(token_id, script_id) = 1", name=op.f("ck_words_one_owner")),
        sa.ForeignKeyConstraint(
            ["script_id"], ["scripts.id"], name=op.f("fk_words_script_id_scripts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["token_id"], ["tokens.id"], name=op.f("fk_words_token_id_tokens"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_words")),
    )
    op.create_index(
        "uq_words_script_index",
        "words",
        ["script_id", "index"],
        unique=True,
        postgresql_where=sa.text("script_id IS NOT NULL"),
    )
    op.create_index(
        "uq_words_token_index",
        "words",
        ["token_id", "index"],
        unique=True,
        postgresql_where=sa.text("token_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_words_token_index", table_name="words", postgresql_where=sa.text("token_id IS NOT NULL")
    )
    op.drop_index(
        "uq_words_script_index", table_name="words", postgresql_where=sa.text("script_id IS NOT NULL")
    )
    op.drop_table("words")
    op.drop_index(
        "uq_bookmarks_user_token", table_name="bookmarks", postgresql_where=sa.text("token_id IS NOT NULL")
    )
    op.drop_index(
        "uq_bookmarks_user_script", table_name="bookmarks", postgresql_where=sa.text("script_id IS NOT NULL")
    )
    op.drop_index("ix_bookmarks_user_id", table_name="bookmarks")
    op.drop_index("ix_bookmarks_token_id", table_name="bookmarks")
    op.drop_index("ix_bookmarks_script_id", table_name="bookmarks")
    op.drop_table("bookmarks")
    op.drop_index(
        "ix_tokens_text_trgm",
        table_name="tokens",
        postgresql_using="gin",
        postgresql_ops={"text": "gin_trgm_ops"},
    )
    op.drop_index(
        "ix_tokens_movie_title_trgm",
        table_name="tokens",
        postgresql_using="gin",
        postgresql_ops={"movie_title": "gin_trgm_ops"},
    )
    op.drop_index(op.f("ix_tokens_movie_title"), table_name="tokens")
    op.drop_index(op.f("ix_tokens_actor_id"), table_name="tokens")
    op.drop_table("tokens")
    op.drop_index(op.f("ix_users_role"), table_name="users")
    op.drop_table("users")
    op.drop_index(
        "ix_scripts_title_trgm",
        table_name="scripts",
        postgresql_using="gin",
        postgresql_ops={"title": "gin_trgm_ops"},
    )
    op.drop_index(op.f("ix_scripts_title"), table_name="scripts")
    op.drop_index(
        "ix_scripts_text_trgm",
        table_name="scripts",
        postgresql_using="gin",
        postgresql_ops={"text": "gin_trgm_ops"},
    )
    op.drop_table("scripts")
    op.drop_index(
        "ix_actors_name_trgm",
        table_name="actors",
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    op.drop_table("actors")
