"""Bookmarks: the practice items (tokens and scripts) a user saved."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class Bookmark:
    user_id: UUID
    item_id: UUID
    created_at: datetime
