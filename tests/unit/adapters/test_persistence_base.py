"""The tables' own column types and bases (adapters.persistence.base) keep what the schema and the rows
were given by advanced-alchemy's: UTC-aware timestamps, UUID ids in time order, the insert sentinel column
and the constraint names the migrations created."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import pytest
from sqlalchemy import insert
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateTable

from adapters.persistence.base import GUID, DateTimeUTC
from adapters.persistence.metadata import metadata
from adapters.persistence.models import OutboxRow, UserRow

DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def test_a_naive_timestamp_is_refused_and_an_aware_one_is_stored_in_utc() -> None:
    column = DateTimeUTC(timezone=True)
    paris = datetime(2026, 12, 6, 12, 0, tzinfo=timezone(timedelta(hours=1)))

    with pytest.raises(TypeError):
        column.process_bind_param(datetime(2026, 12, 6, 12, 0), DIALECT)
    assert column.process_bind_param(paris, DIALECT) == datetime(2026, 12, 6, 11, 0, tzinfo=UTC)
    assert column.process_bind_param(paris, DIALECT).tzinfo == UTC  # type: ignore[union-attr]


def test_a_timestamp_read_without_a_zone_is_read_as_utc() -> None:
    read = DateTimeUTC(timezone=True).process_result_value(datetime(2026, 12, 6, 11, 0), DIALECT)

    assert read == datetime(2026, 12, 6, 11, 0, tzinfo=UTC)


def test_a_uuid_column_binds_a_uuid_or_its_text_and_reads_a_uuid() -> None:
    column = GUID(length=16)
    value = UUID("01a24b02-07d2-74c4-a438-476ae400741e")

    assert column.process_bind_param(value, DIALECT) == str(value)
    assert column.process_bind_param(str(value), DIALECT) == str(value)
    assert column.process_result_value(str(value), DIALECT) == value
    assert column.process_result_value(value, DIALECT) is value
    assert column.compile(dialect=DIALECT) == "UUID"


def test_a_new_row_gets_a_time_ordered_uuid_and_utc_audit_timestamps_from_its_defaults() -> None:
    table = UserRow.__table__
    first = table.c.id.default.arg(None)  # type: ignore[union-attr]
    second = table.c.id.default.arg(None)  # type: ignore[union-attr]

    assert isinstance(first, UUID)
    assert first.version == 7
    assert first < second
    created = table.c.created_at.default.arg(None)  # type: ignore[union-attr]
    assert created.tzinfo == UTC
    assert table.c.updated_at.onupdate is not None


def test_an_audit_timestamp_assigned_without_a_zone_is_taken_as_utc() -> None:
    row = OutboxRow()
    row.created_at = datetime(2026, 12, 6, 11, 0)

    assert row.created_at == datetime(2026, 12, 6, 11, 0, tzinfo=UTC)


def test_audited_tables_carry_the_insert_sentinel_and_the_migrations_constraint_names() -> None:
    users = metadata.tables["users"]
    ddl = str(CreateTable(users).compile(dialect=DIALECT))

    assert users.c.sa_orm_sentinel.nullable
    assert "sa_orm_sentinel" not in str(insert(users).values(email="a@example.com").compile(dialect=DIALECT))
    assert "CONSTRAINT pk_users PRIMARY KEY" in ddl
    assert "CONSTRAINT ck_users_role_known CHECK" in ddl
    assert "CONSTRAINT uq_users_email UNIQUE" in ddl
