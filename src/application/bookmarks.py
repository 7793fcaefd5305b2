"""Bookmarks and the user's page."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from application.ports.persistence import BookmarkedItem, UnitOfWorkFactory
from application.ports.system import Clock
from domain.accounts import Principal, User
from domain.bookmarks import Bookmark
from domain.catalog import ReferenceKind
from domain.errors import AuthenticationError, NotFoundError


@dataclass(frozen=True, slots=True)
class MyPage:
    user: User
    bookmarks: list[BookmarkedItem]


class Bookmarks:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def add(self, principal: Principal, kind: ReferenceKind, target_id: UUID) -> bool:
        """Bookmark a token or script; True when it is new, False when it was bookmarked already."""
        async with self._uow() as uow:
            exists = (
                await uow.tokens.get(target_id)
                if kind is ReferenceKind.TOKEN
                else await uow.scripts.get(target_id)
            )
            if exists is None:
                raise NotFoundError(kind.value, target_id)
            created = await uow.bookmarks.add(
                Bookmark(
                    user_id=principal.user_id, kind=kind, target_id=target_id, created_at=self._clock.now()
                )
            )
            await uow.commit()
        return created

    async def remove(self, principal: Principal, kind: ReferenceKind, target_id: UUID) -> None:
        async with self._uow() as uow:
            removed = await uow.bookmarks.remove(principal.user_id, kind, target_id)
            await uow.commit()
        if not removed:
            raise NotFoundError(f"bookmark of {kind.value}", target_id)

    async def my_page(self, principal: Principal) -> MyPage:
        async with self._uow() as uow:
            user = await uow.users.get(principal.user_id)
            if user is None:
                raise AuthenticationError("the account behind this token no longer exists")
            items = await uow.bookmarks.list_for_user(principal.user_id)
        return MyPage(user=user, bookmarks=items)
