"""The one page schema every list endpoint answers with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Self, TypeVar

import msgspec

from application.ports.persistence import Page

ItemOut = TypeVar("ItemOut")


class PageOut(msgspec.Struct, Generic[ItemOut]):
    """One page of a list: the items, how many there are in all, and the page's bounds.

    Each list names its page with a subclass (``TokenPage``), which keeps the OpenAPI names readable.
    """

    items: list[ItemOut]
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, page: Page[Any], item_out: Callable[[Any], ItemOut]) -> Self:
        return cls([item_out(item) for item in page.items], page.total, page.limit, page.offset)
