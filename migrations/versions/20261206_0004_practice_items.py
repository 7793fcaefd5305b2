"""tokens and scripts become practice items with a detail row; words, bookmarks and jobs get one item_id

Rows keep their ids, so /tokens/{id} and /scripts/{id} keep working. Downgrading splits the items
into tokens and scripts again; a job whose item was deleted gets the nil UUID as its target_id.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 02:10:00+00:00
"""

# ruff: noqa: S608 - the SQL below is put together from this file's table and column names only

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from adapters.persistence import base as column_types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFERENCE_AUDIO = "reference_audio_key, reference_audio_content_type, reference_audio_duration"
NIL_UUID = "00000000-0000-0000-0000-000000000000"


def _guid() -> column_types.GUID:
    return column_types.GUID(length=16)


def _timestamp() -> column_types.DateTimeUTC:
    return column_types.DateTimeUTC(timezone=True)


def _audit_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
    ]


def _reference_audio_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("reference_audio_key", sa.String(length=512), nullable=True),
        sa.Column("reference_audio_content_type", sa.String(length=64), nullable=True),
        sa.Column("reference_audio_duration", sa.Float(), nullable=True),
    ]


def _trigram_index(name: str, table: str, column: str) -> None:
    op.create_index(
        name, table, [column], unique=False, postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"}
    )


def upgrade() -> None:
    op.create_table(
        "practice_items",
        sa.Column("id", _guid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("feature_config_version", sa.String(length=32), nullable=True),
        *_reference_audio_columns(),
        *_audit_columns(),
        sa.CheckConstraint("kind IN ('token', 'script')", name=op.f("ck_practice_items_kind_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practice_items")),
    )
    _trigram_index("ix_practice_items_text_trgm", "practice_items", "text")
    op.create_table(
        "movie_lines",
        sa.Column("item_id", _guid(), nullable=False),
        sa.Column("actor_id", _guid(), nullable=False),
        sa.Column("movie_title", sa.String(length=200), nullable=False),
        sa.Column("movie_year", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["actors.id"], name=op.f("fk_movie_lines_actor_id_actors"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["practice_items.id"],
            name=op.f("fk_movie_lines_item_id_practice_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_movie_lines")),
    )
    op.create_index(op.f("ix_movie_lines_actor_id"), "movie_lines", ["actor_id"], unique=False)
    op.create_index(op.f("ix_movie_lines_movie_title"), "movie_lines", ["movie_title"], unique=False)
    _trigram_index("ix_movie_lines_movie_title_trgm", "movie_lines", "movie_title")
    op.create_table(
        "script_details",
        sa.Column("item_id", _guid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["practice_items.id"],
            name=op.f("fk_script_details_item_id_practice_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_script_details")),
    )
    op.create_index(op.f("ix_script_details_title"), "script_details", ["title"], unique=False)
    _trigram_index("ix_script_details_title_trgm", "script_details", "title")

    op.execute(
        f"INSERT INTO practice_items (id, kind, text, feature_config_version, {REFERENCE_AUDIO}, "
        "created_at, updated_at) "
        f"SELECT id, 'token', text, NULL, {REFERENCE_AUDIO}, created_at, updated_at FROM tokens"
    )
    op.execute(
        "INSERT INTO movie_lines (item_id, actor_id, movie_title, movie_year) "
        "SELECT id, actor_id, movie_title, movie_year FROM tokens"
    )
    op.execute(
        f"INSERT INTO practice_items (id, kind, text, feature_config_version, {REFERENCE_AUDIO}, "
        "created_at, updated_at) "
        f"SELECT id, 'script', text, feature_config_version, {REFERENCE_AUDIO}, created_at, updated_at "
        "FROM scripts"
    )
    op.execute("INSERT INTO script_details (item_id, title) SELECT id, title FROM scripts")

    # Dropping token_id and script_id also drops the foreign keys, checks and indexes that use them.
    for table, required in (("words", True), ("bookmarks", True), ("jobs", False)):
        op.add_column(table, sa.Column("item_id", _guid(), nullable=True))
        op.execute(f"UPDATE {table} SET item_id = coalesce(token_id, script_id)")
        if required:
            op.alter_column(table, "item_id", nullable=False)
        op.drop_column(table, "token_id")
        op.drop_column(table, "script_id")
        op.create_foreign_key(
            op.f(f"fk_{table}_item_id_practice_items"),
            table,
            "practice_items",
            ["item_id"],
            ["id"],
            ondelete="CASCADE" if required else "SET NULL",
        )
    op.drop_column("jobs", "target_id")
    op.create_index("uq_words_item_index", "words", ["item_id", "index"], unique=True)
    op.drop_index("ix_bookmarks_user_id", table_name="bookmarks")
    op.create_index("uq_bookmarks_user_item", "bookmarks", ["user_id", "item_id"], unique=True)
    op.create_index("ix_bookmarks_item_id", "bookmarks", ["item_id"], unique=False)
    op.create_index("ix_jobs_item_id", "jobs", ["item_id"], unique=False)
    op.drop_table("tokens")
    op.drop_table("scripts")


def downgrade() -> None:
    op.create_table(
        "scripts",
        sa.Column("id", _guid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("feature_config_version", sa.String(length=32), nullable=True),
        *_reference_audio_columns(),
        *_audit_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scripts")),
    )
    _trigram_index("ix_scripts_text_trgm", "scripts", "text")
    op.create_index(op.f("ix_scripts_title"), "scripts", ["title"], unique=False)
    _trigram_index("ix_scripts_title_trgm", "scripts", "title")
    op.create_table(
        "tokens",
        sa.Column("id", _guid(), nullable=False),
        sa.Column("actor_id", _guid(), nullable=False),
        sa.Column("movie_title", sa.String(length=200), nullable=False),
        sa.Column("movie_year", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        *_reference_audio_columns(),
        *_audit_columns(),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["actors.id"], name=op.f("fk_tokens_actor_id_actors"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
    )
    op.create_index(op.f("ix_tokens_actor_id"), "tokens", ["actor_id"], unique=False)
    op.create_index(op.f("ix_tokens_movie_title"), "tokens", ["movie_title"], unique=False)
    _trigram_index("ix_tokens_movie_title_trgm", "tokens", "movie_title")
    _trigram_index("ix_tokens_text_trgm", "tokens", "text")
    op.execute(
        f"INSERT INTO tokens (id, actor_id, movie_title, movie_year, text, {REFERENCE_AUDIO}, created_at, "
        f"updated_at) SELECT p.id, m.actor_id, m.movie_title, m.movie_year, p.text, {REFERENCE_AUDIO}, "
        "p.created_at, p.updated_at FROM practice_items p JOIN movie_lines m ON m.item_id = p.id"
    )
    op.execute(
        f"INSERT INTO scripts (id, title, text, feature_config_version, {REFERENCE_AUDIO}, created_at, "
        f"updated_at) SELECT p.id, s.title, p.text, p.feature_config_version, {REFERENCE_AUDIO}, "
        "p.created_at, p.updated_at FROM practice_items p JOIN script_details s ON s.item_id = p.id"
    )

    for table, ondelete in (("words", "CASCADE"), ("bookmarks", "CASCADE"), ("jobs", "SET NULL")):
        op.add_column(table, sa.Column("token_id", _guid(), nullable=True))
        op.add_column(table, sa.Column("script_id", _guid(), nullable=True))
        op.execute(
            f"UPDATE {table} SET token_id = CASE WHEN p.kind = 'token' THEN p.id END, "
            "script_id = CASE WHEN p.kind = 'script' THEN p.id END "
            f"FROM practice_items p WHERE p.id = {table}.item_id"
        )
        for column, referred in (("token_id", "tokens"), ("script_id", "scripts")):
            op.create_foreign_key(
                op.f(f"fk_{table}_{column}_{referred}"), table, referred, [column], ["id"], ondelete=ondelete
            )
    op.add_column("jobs", sa.Column("target_id", _guid(), nullable=True))
    op.execute(f"UPDATE jobs SET target_id = coalesce(item_id, '{NIL_UUID}')")
    op.alter_column("jobs", "target_id", nullable=False)
    for table in ("words", "bookmarks", "jobs"):
        op.drop_column(table, "item_id")

    op.create_check_constraint(op.f("ck_words_one_owner"), "words", "num_nonnulls(token_id, script_id) = 1")
    op.create_check_constraint(
        op.f("ck_bookmarks_one_target"), "bookmarks", "num_nonnulls(token_id, script_id) = 1"
    )
    for column, kind in (("token_id", "token"), ("script_id", "script")):
        op.create_index(
            f"uq_words_{kind}_index",
            "words",
            [column, "index"],
            unique=True,
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
        )
        op.create_index(
            f"uq_bookmarks_user_{kind}",
            "bookmarks",
            ["user_id", column],
            unique=True,
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
        )
        op.create_index(f"ix_bookmarks_{column}", "bookmarks", [column], unique=False)
        op.create_index(f"ix_jobs_{column}", "jobs", [column], unique=False)
    op.create_index("ix_bookmarks_user_id", "bookmarks", ["user_id"], unique=False)
    op.drop_table("script_details")
    op.drop_table("movie_lines")
    op.drop_table("practice_items")
