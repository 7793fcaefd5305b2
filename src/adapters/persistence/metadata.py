"""The metadata every table is registered on (advanced-alchemy's shared registry)."""

from __future__ import annotations

from advanced_alchemy.base import orm_registry

metadata = orm_registry.metadata
