"""Bookmarks and the user's page."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from application.catalog import load_item
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

    async def add(self, principal: Principal, kind: ReferenceKind, item_id: UUID) -> bool:
        """Bookmark a token or script; True when it is new, False when it was bookmarked already."""
        async with self._uow() as uow:
            await load_item(uow, kind, item_id)
            created = await uow.bookmarks.add(Bookmark(principal.user_id, item_id, self._clock.now()))
            await uow.commit()
        return created

    async def remove(self, principal: Principal, kind: ReferenceKind, item_id: UUID) -> None:
        async with self._uow() as uow:
            item = await uow.items.get(item_id)
            if (
                item is None
                or item.kind is not kind
                or not await uow.bookmarks.remove(principal.user_id, item_id)
            ):
                raise NotFoundError(f"bookmark of {kind.value}", item_id)
            await uow.commit()

    async def my_page(self, principal: Principal) -> MyPage:
        async with self._uow() as uow:
            user = await uow.users.get(principal.user_id)
            if user is None:
                raise AuthenticationError("the account behind this token no longer exists")
            items = await uow.bookmarks.list_for_user(principal.user_id)
        return MyPage(user=user, bookmarks=items)
