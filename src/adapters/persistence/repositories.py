"""Postgres repositories for accounts, the catalog (actors and practice items) and bookmarks."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Select, delete, exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from adapters.persistence.mappers import (
    actor_from_row,
    item_from_row,
    user_from_row,
    word_from_row,
    word_rows,
    write_item,
)
from adapters.persistence.models import (
    ActorRow,
    BookmarkRow,
    MovieLineRow,
    PracticeItemRow,
    ScriptDetailRow,
    UserRow,
    WordRow,
)
from application.ports.persistence import (
    ActorFilter,
    BookmarkedItem,
    MovieLineFilter,
    Page,
    PageRequest,
    ScriptFilter,
)
from domain.accounts import User
from domain.bookmarks import Bookmark
from domain.catalog import Actor, PracticeItem, ReferenceKind, Word


def contains(column: Any, needle: str) -> ColumnElement[bool]:
    """Case-insensitive substring match with LIKE wildcards in the needle taken literally."""
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    condition: ColumnElement[bool] = column.ilike(f"%{escaped}%", escape="\\")
    return condition


def _any_contains(needle: str | None, *columns: Any) -> ColumnElement[bool] | None:
    return or_(*(contains(column, needle) for column in columns)) if needle else None


def _same_words(rows: list[WordRow], words: list[Word]) -> bool:
    return [word_from_row(row) for row in rows] == list(words)


async def _replace_words(session: AsyncSession, rows: list[WordRow], words: list[Word]) -> None:
    """Swap a word list; old rows go first so (owner, index) stays unique within the flush."""
    if _same_words(rows, words):
        return
    rows.clear()
    await session.flush()
    rows.extend(word_rows(words))


async def _page(
    session: AsyncSession, query: Select[Any], page: PageRequest, order_by: Any
) -> tuple[list[Any], int]:
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = (
        (await session.scalars(query.order_by(*order_by).limit(page.limit).offset(page.offset)))
        .unique()
        .all()
    )
    return list(rows), int(total or 0)


class SqlaUserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, user: User) -> None:
        self._session.add(
            UserRow(
                id=user.id,
                email=user.email,
                display_name=user.display_name,
                password_hash=user.password_hash,
                role=user.role.value,
                created_at=user.created_at,
            )
        )
        await self._session.flush()

    async def get(self, user_id: UUID) -> User | None:
        row = await self._session.get(UserRow, user_id)
        return user_from_row(row) if row else None

    async def get_by_email(self, email: str) -> User | None:
        row = await self._session.scalar(select(UserRow).where(UserRow.email == email))
        return user_from_row(row) if row else None

    async def save(self, user: User) -> None:
        row = await self._session.get_one(UserRow, user.id)
        row.email, row.display_name = user.email, user.display_name
        row.password_hash, row.role = user.password_hash, user.role.value
        await self._session.flush()


class SqlaActorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, actor: Actor) -> None:
        self._session.add(ActorRow(id=actor.id, name=actor.name, bio=actor.bio, created_at=actor.created_at))
        await self._session.flush()

    async def get(self, actor_id: UUID) -> Actor | None:
        row = await self._session.get(ActorRow, actor_id)
        return actor_from_row(row) if row else None

    async def save(self, actor: Actor) -> None:
        row = await self._session.get_one(ActorRow, actor.id)
        row.name, row.bio = actor.name, actor.bio
        await self._session.flush()

    async def delete(self, actor_id: UUID) -> None:
        await self._session.execute(delete(ActorRow).where(ActorRow.id == actor_id))

    async def has_movie_lines(self, actor_id: UUID) -> bool:
        return bool(await self._session.scalar(select(exists().where(MovieLineRow.actor_id == actor_id))))

    async def list(self, filters: ActorFilter, page: PageRequest) -> Page[Actor]:
        query = select(ActorRow)
        search = _any_contains(filters.search, ActorRow.name, ActorRow.bio)
        if search is not None:
            query = query.where(search)
        rows, total = await _page(self._session, query, page, (ActorRow.name, ActorRow.id))
        return Page([actor_from_row(row) for row in rows], total, page.limit, page.offset)


class SqlaPracticeItemRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, item: PracticeItem) -> None:
        row = PracticeItemRow(id=item.id, created_at=item.created_at, words=word_rows(item.words))
        write_item(item, row)
        self._session.add(row)
        await self._session.flush()

    async def get(self, item_id: UUID) -> PracticeItem | None:
        row = await self._load(item_id)
        return item_from_row(row) if row else None

    async def reference_state(self, item_id: UUID) -> tuple[ReferenceKind, bool] | None:
        found = (
            await self._session.execute(
                select(PracticeItemRow.kind, PracticeItemRow.reference_audio_key.is_not(None)).where(
                    PracticeItemRow.id == item_id
                )
            )
        ).first()
        return None if found is None else (ReferenceKind(found[0]), bool(found[1]))

    async def save(self, item: PracticeItem) -> None:
        row = await self._load(item.id)
        if row is None:
            raise LookupError(item.id)
        await _replace_words(self._session, row.words, item.words)
        write_item(item, row)
        await self._session.flush()

    async def delete(self, item_id: UUID) -> None:
        await self._session.execute(delete(PracticeItemRow).where(PracticeItemRow.id == item_id))

    async def list_movie_lines(self, filters: MovieLineFilter, page: PageRequest) -> Page[PracticeItem]:
        conditions = [
            MovieLineRow.actor_id == filters.actor_id if filters.actor_id is not None else None,
            contains(MovieLineRow.movie_title, filters.movie_title) if filters.movie_title else None,
            _any_contains(filters.search, PracticeItemRow.text, MovieLineRow.movie_title),
        ]
        query = (
            select(PracticeItemRow)
            .join(PracticeItemRow.movie_line)
            .options(selectinload(PracticeItemRow.words))
        )
        order = (PracticeItemRow.created_at.desc(), PracticeItemRow.id)
        return await self._list(query, conditions, order, page, with_words=True)

    async def list_scripts(self, filters: ScriptFilter, page: PageRequest) -> Page[PracticeItem]:
        conditions = [
            contains(ScriptDetailRow.title, filters.title) if filters.title else None,
            _any_contains(filters.search, ScriptDetailRow.title, PracticeItemRow.text),
        ]
        query = select(PracticeItemRow).join(PracticeItemRow.script)
        order = (ScriptDetailRow.title, PracticeItemRow.id)
        return await self._list(query, conditions, order, page, with_words=False)

    async def _list(
        self,
        query: Select[PracticeItemRow],
        conditions: list[ColumnElement[bool] | None],
        order: tuple[Any, ...],
        page: PageRequest,
        *,
        with_words: bool,
    ) -> Page[PracticeItem]:
        query = _with_details(query).where(*(condition for condition in conditions if condition is not None))
        rows, total = await _page(self._session, query, page, order)
        return Page(
            [item_from_row(row, with_words=with_words) for row in rows], total, page.limit, page.offset
        )

    async def _load(self, item_id: UUID) -> PracticeItemRow | None:
        query = _with_details(select(PracticeItemRow).where(PracticeItemRow.id == item_id))
        return await self._session.scalar(query.options(selectinload(PracticeItemRow.words)))


def _with_details(query: Select[PracticeItemRow]) -> Select[PracticeItemRow]:
    return query.options(
        joinedload(PracticeItemRow.movie_line).joinedload(MovieLineRow.actor),
        joinedload(PracticeItemRow.script),
    )


class SqlaBookmarkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, bookmark: Bookmark) -> bool:
        statement = (
            insert(BookmarkRow)
            .values(user_id=bookmark.user_id, item_id=bookmark.item_id, bookmarked_at=bookmark.created_at)
            .on_conflict_do_nothing(index_elements=["user_id", "item_id"])
            .returning(BookmarkRow.id)
        )
        return (await self._session.scalar(statement)) is not None

    async def remove(self, user_id: UUID, item_id: UUID) -> bool:
        result = await self._session.execute(
            delete(BookmarkRow)
            .where(BookmarkRow.user_id == user_id, BookmarkRow.item_id == item_id)
            .returning(BookmarkRow.id)
        )
        return result.first() is not None

    async def list_for_user(self, user_id: UUID) -> list[BookmarkedItem]:
        item = joinedload(BookmarkRow.item)
        query = (
            select(BookmarkRow)
            .where(BookmarkRow.user_id == user_id)
            .options(
                item.joinedload(PracticeItemRow.movie_line).joinedload(MovieLineRow.actor),
                item.joinedload(PracticeItemRow.script),
                item.selectinload(PracticeItemRow.words),
            )
            .order_by(BookmarkRow.bookmarked_at.desc(), BookmarkRow.id)
        )
        rows = (await self._session.scalars(query)).unique().all()
        return [
            BookmarkedItem(
                bookmark=Bookmark(user_id=row.user_id, item_id=row.item_id, created_at=row.bookmarked_at),
                item=item_from_row(row.item),
            )
            for row in rows
        ]
