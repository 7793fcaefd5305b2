"""A dependency the service needs to be ready: Postgres, Redis, object storage."""

from __future__ import annotations

from typing import Protocol


class DependencyProbe(Protocol):
    name: str

    async def check(self) -> None:
        """Return when the dependency answers; raise otherwise."""
        ...
