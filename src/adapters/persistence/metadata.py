"""The metadata every table is registered on (the declarative bases' registry, adapters.persistence.base)."""

from __future__ import annotations

from adapters.persistence.base import orm_registry

metadata = orm_registry.metadata
