"""Alembic migrations: every step reverses cleanly, and head matches the models with indexed foreign keys."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import adapters.persistence.models  # noqa: F401 - registers every table on the metadata
from adapters.persistence import migrations
from adapters.persistence.metadata import metadata

T = TypeVar("T")
EmptyDatabaseFactory = Callable[[], str]

FOREIGN_KEYS = text(
    """
    SELECT c.conrelid::regclass::text AS table_name,
           c.conname AS constraint_name,
           array(
               SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, position)
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
               ORDER BY k.position
           ) AS columns
    FROM pg_constraint c
    JOIN pg_namespace n ON n.oid = c.connamespace
    WHERE c.contype = 'f' AND n.nspname = 'public'
    """
)
# Expression columns (attnum 0) and partial predicates are returned so the test can judge them.
INDEXES = text(
    """
    SELECT i.indrelid::regclass::text AS table_name,
           array(
               SELECT coalesce(a.attname, '') FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
               LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
               ORDER BY k.position
           ) AS columns,
           pg_get_expr(i.indpred, i.indrelid) AS predicate
    FROM pg_index i
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname = 'public'
    """
)


@pytest.fixture
def empty_database(empty_database_factory: EmptyDatabaseFactory) -> str:
    return empty_database_factory()


def _revisions_from_base(database_url: str) -> list[tuple[str, str]]:
    """(revision, the revision to downgrade to) for every migration, oldest first."""
    scripts = ScriptDirectory.from_config(migrations.alembic_config(database_url))
    steps = []
    for script in reversed(list(scripts.walk_revisions("base", "heads"))):
        down = script.down_revision
        assert down is None or isinstance(down, str), f"{script.revision} is a merge; step it explicitly"
        steps.append((script.revision, down or "base"))
    return steps


def _run_on(database_url: str, work: Callable[[Connection], T]) -> T:
    async def run() -> T:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _current_revision(database_url: str) -> str | None:
    return _run_on(
        database_url, lambda connection: MigrationContext.configure(connection).get_current_revision()
    )


def test_every_migration_upgrades_downgrades_and_upgrades_again(empty_database: str) -> None:
    steps = _revisions_from_base(empty_database)
    assert steps, "the migrations directory holds no revision"
    for revision, previous in steps:
        migrations.upgrade(empty_database, revision)
        migrations.downgrade(empty_database, previous)
        migrations.upgrade(empty_database, revision)
        assert _current_revision(empty_database) == revision


def test_schema_after_upgrade_head_matches_the_models(empty_database: str) -> None:
    migrations.upgrade(empty_database, "head")

    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    assert _run_on(empty_database, differences) == []


def _covers(index_columns: list[str], predicate: str | None, foreign_key_columns: list[str]) -> bool:
    leading = index_columns[: len(foreign_key_columns)]
    if sorted(leading) != sorted(foreign_key_columns):
        return False
    # A partial index serves the foreign key lookups only when its predicate is implied by "column = value".
    return predicate is None or (
        len(foreign_key_columns) == 1 and predicate == f"({foreign_key_columns[0]} IS NOT NULL)"
    )


def test_every_foreign_key_is_covered_by_an_index_leading_with_its_columns(database_url: str) -> None:
    def catalog(connection: Connection) -> tuple[list[Any], list[Any]]:
        return list(connection.execute(FOREIGN_KEYS)), list(connection.execute(INDEXES))

    foreign_keys, indexes = _run_on(database_url, catalog)
    assert foreign_keys, "the migrated schema has no foreign key at all"
    uncovered = [
        f"{fk.table_name}.{fk.constraint_name} ({', '.join(fk.columns)})"
        for fk in foreign_keys
        if not any(
            index.table_name == fk.table_name
            and _covers(list(index.columns), index.predicate, list(fk.columns))
            for index in indexes
        )
    ]
    assert uncovered == []
