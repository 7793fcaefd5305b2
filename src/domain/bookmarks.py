"""Bookmarks: a user's saved tokens and scripts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.catalog import ReferenceKind


@dataclass(frozen=True, slots=True)
class Bookmark:
    user_id: UUID
    kind: ReferenceKind
    target_id: UUID
    created_at: datetime
