"""Told after every committed catalog write, so caches of catalog reads drop what the write changed."""

from __future__ import annotations

from typing import Protocol


class CatalogChanges(Protocol):
    async def catalog_changed(self) -> None:
        """The catalog changed (committed). Must not raise: a cache that cannot be told bounds its staleness."""
        ...


class NoCatalogCache:
    """For processes and tests without a catalog cache."""

    async def catalog_changed(self) -> None:
        return None
