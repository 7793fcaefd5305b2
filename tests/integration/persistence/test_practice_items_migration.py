"""Migration 0004 moves tokens, scripts, words, bookmarks and jobs onto practice items, and back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.persistence import migrations

BEFORE, AFTER = "0003", "0004"
ACTOR, TOKEN, SCRIPT, USER = uuid4(), uuid4(), uuid4(), uuid4()
TOKEN_JOB, SCRIPT_JOB, ORPHAN_JOB, DELETED_TOKEN = uuid4(), uuid4(), uuid4(), uuid4()
AUDIO = ("references/tokens/a.wav", "audio/wav", 1.5)

SEED_AT_0003 = [
    "INSERT INTO users (id, email, display_name, password_hash, role, created_at, updated_at) "
    "VALUES (:user, 'ada@example.com', 'Ada', 'hash', 'user', now(), now())",
    "INSERT INTO actors (id, name, bio, created_at, updated_at) VALUES (:actor, 'Meryl', '', now(), now())",
    "INSERT INTO tokens (id, actor_id, movie_title, movie_year, text, reference_audio_key, "
    "reference_audio_content_type, reference_audio_duration, created_at, updated_at) VALUES "
    "(:token, :actor, 'Doubt', 2008, 'I have doubts.', :key, :content_type, :duration, "
    "'2025-01-01T00:00:00Z', '2025-01-02T00:00:00Z')",
    "INSERT INTO scripts (id, title, text, feature_config_version, created_at, updated_at) VALUES "
    "(:script, 'Freedom', 'To be free', 'mfcc@1', now(), now())",
    'INSERT INTO words (id, token_id, script_id, index, text, start, "end", reference_features, '
    "created_at, updated_at) VALUES "
    "(gen_random_uuid(), :token, NULL, 0, 'I', 0.0, 0.2, NULL, now(), now()), "
    "(gen_random_uuid(), NULL, :script, 0, 'To', 0.0, 0.2, '{\"mfcc\": [[1.5]]}', now(), now()), "
    "(gen_random_uuid(), NULL, :script, 1, 'be', 0.3, 0.5, NULL, now(), now())",
    "INSERT INTO bookmarks (id, user_id, token_id, script_id, bookmarked_at, created_at, updated_at) VALUES "
    "(gen_random_uuid(), :user, :token, NULL, now(), now(), now()), "
    "(gen_random_uuid(), :user, NULL, :script, now(), now(), now())",
    "INSERT INTO jobs (id, user_id, kind, token_id, script_id, target_id, status, progress, last_sequence, "
    "created_at, updated_at) VALUES "
    "(:token_job, :user, 'token', :token, NULL, :token, 'completed', 100, 3, now(), now()), "
    "(:script_job, :user, 'script', NULL, :script, :script, 'queued', 0, 1, now(), now()), "
    # The token of this job was deleted, which set its token_id to null.
    "(:orphan_job, :user, 'token', NULL, NULL, :deleted_token, 'failed', 0, 2, now(), now())",
]
PARAMETERS = {
    "user": USER,
    "actor": ACTOR,
    "token": TOKEN,
    "script": SCRIPT,
    "token_job": TOKEN_JOB,
    "script_job": SCRIPT_JOB,
    "orphan_job": ORPHAN_JOB,
    "deleted_token": DELETED_TOKEN,
    "key": AUDIO[0],
    "content_type": AUDIO[1],
    "duration": AUDIO[2],
}


def _run(database_url: str, statements: list[str]) -> list[list[tuple[Any, ...]]]:
    """Run the statements in one transaction; the rows each returned (empty for writes)."""

    async def run() -> list[list[tuple[Any, ...]]]:
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as connection:
                results = [await connection.execute(text(sql), PARAMETERS) for sql in statements]
                return [[tuple(row) for row in result] if result.returns_rows else [] for result in results]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _query(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    return _run(database_url, [sql])[0]


@pytest.fixture
def database_with_tokens_and_scripts(empty_database_factory: Callable[[], str]) -> str:
    url = empty_database_factory()
    migrations.upgrade(url, BEFORE)
    _run(url, SEED_AT_0003)
    return url


def test_upgrade_moves_every_token_script_word_bookmark_and_job_onto_practice_items(
    database_with_tokens_and_scripts: str,
) -> None:
    url = database_with_tokens_and_scripts
    migrations.upgrade(url, AFTER)

    items = _query(
        url,
        "SELECT id, kind, text, feature_config_version, reference_audio_key, reference_audio_content_type, "
        "reference_audio_duration, created_at::date::text, updated_at::date::text FROM practice_items ORDER BY kind",
    )
    assert [row[:7] for row in items] == [
        (SCRIPT, "script", "To be free", "mfcc@1", None, None, None),
        (TOKEN, "token", "I have doubts.", None, *AUDIO),
    ]
    assert items[1][7:] == ("2025-01-01", "2025-01-02")
    assert _query(url, "SELECT item_id, actor_id, movie_title, movie_year FROM movie_lines") == [
        (TOKEN, ACTOR, "Doubt", 2008)
    ]
    assert _query(url, "SELECT item_id, title FROM script_details") == [(SCRIPT, "Freedom")]
    assert _query(url, "SELECT item_id, index, text, reference_features FROM words ORDER BY text") == [
        (TOKEN, 0, "I", None),
        (SCRIPT, 0, "To", {"mfcc": [[1.5]]}),
        (SCRIPT, 1, "be", None),
    ]
    assert set(_query(url, "SELECT user_id, item_id FROM bookmarks")) == {(USER, TOKEN), (USER, SCRIPT)}
    assert set(_query(url, "SELECT id, kind, item_id, status FROM jobs")) == {
        (TOKEN_JOB, "token", TOKEN, "completed"),
        (SCRIPT_JOB, "script", SCRIPT, "queued"),
        (ORPHAN_JOB, "token", None, "failed"),
    }
    tables = {row[0] for row in _query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"tokens", "scripts"}.isdisjoint(tables)


def test_downgrade_splits_the_items_into_tokens_and_scripts_again(
    database_with_tokens_and_scripts: str,
) -> None:
    url = database_with_tokens_and_scripts
    seeded = _snapshot(url)
    migrations.upgrade(url, AFTER)
    migrations.downgrade(url, BEFORE)

    restored = _snapshot(url)
    nil = UUID(int=0)
    # A job whose token was gone has no item to point back at; it gets the nil UUID as its target.
    assert restored.pop("jobs") == {
        job if job[0] != ORPHAN_JOB else (*job[:4], nil) for job in seeded.pop("jobs")
    }
    assert restored == seeded


def _snapshot(url: str) -> dict[str, set[tuple[Any, ...]]]:
    queries = {
        "tokens": "SELECT id, actor_id, movie_title, movie_year, text, reference_audio_key, created_at FROM tokens",
        "scripts": "SELECT id, title, text, feature_config_version, created_at FROM scripts",
        "words": "SELECT token_id, script_id, index, text, reference_features::text FROM words",
        "bookmarks": "SELECT user_id, token_id, script_id FROM bookmarks",
        "jobs": "SELECT id, kind, token_id, script_id, target_id FROM jobs",
    }
    rows = _run(url, list(queries.values()))
    return {name: set(result) for name, result in zip(queries, rows, strict=True)}
