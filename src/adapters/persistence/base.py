"""The declarative bases and column types of the tables, in plain SQLAlchemy.

They replace advanced-alchemy's ``UUIDv7AuditBase``, ``DefaultBase``, ``GUID`` and ``DateTimeUTC`` with
the same schema (names, types, the ``sa_orm_sentinel`` column) and the same behaviour on Postgres:
advanced-alchemy's package imports Litestar, pydantic and numpy when they are installed, which made
them most of the worker's start-up (docs/performance.md, "Startup"), and the tables need none of it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import DateTime, MetaData
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    declared_attr,
    mapped_column,
    orm_insert_sentinel,
    registry,
    validates,
)
from sqlalchemy.types import TypeDecorator
from uuid_utils.compat import uuid7

# Constraint and index names as the migrations created them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class GUID(TypeDecorator[UUID]):
    """A UUID column (Postgres ``uuid``), read as ``uuid.UUID``; binds a UUID or its string form."""

    impl = PG_UUID
    cache_ok = True

    @property
    def python_type(self) -> type[UUID]:
        return UUID

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Migrations written by advanced-alchemy's renderer pass ``length=16``; Postgres ignores it.
        super().__init__()

    def process_bind_param(self, value: UUID | str | None, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: UUID | str | None, dialect: Dialect) -> UUID | None:
        if value is None or isinstance(value, UUID):
            return value
        return UUID(str(value))


class DateTimeUTC(TypeDecorator[datetime]):
    """``timestamp with time zone``: refuses a naive datetime, stores UTC, reads an aware datetime."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not value.tzinfo:
            raise TypeError("tzinfo is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


orm_registry = registry(
    metadata=MetaData(naming_convention=NAMING_CONVENTION),
    type_annotation_map={UUID: GUID, datetime: DateTimeUTC},
)


class DefaultBase(AsyncAttrs, DeclarativeBase):
    """A table with the shared metadata and type map, and no columns of its own."""

    __abstract__ = True
    registry = orm_registry
    metadata = orm_registry.metadata


class UUIDv7AuditBase(DefaultBase):
    """A table keyed by a UUIDv7 ``id``, with ``created_at`` / ``updated_at`` kept by the ORM, and the
    insert sentinel column that lets SQLAlchemy batch its inserts with RETURNING."""

    __abstract__ = True

    id: Mapped[UUID] = mapped_column(default=uuid7, primary_key=True, sort_order=-100)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=_now, sort_order=3002)
    updated_at: Mapped[datetime] = mapped_column(
        DateTimeUTC(timezone=True), default=_now, onupdate=_now, sort_order=3003
    )

    @declared_attr
    def _sentinel(cls) -> Mapped[int]:  # noqa: N805 - a declared_attr is called with the class
        return orm_insert_sentinel(name="sa_orm_sentinel")

    @validates("created_at", "updated_at")
    def _assume_utc(self, _: str, value: datetime) -> datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
