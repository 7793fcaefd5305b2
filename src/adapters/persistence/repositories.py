"""Postgres repositories for accounts, catalog and bookmarks."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Select, delete, exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from adapters.persistence.mappers import (
    actor_from_row,
    script_from_row,
    token_from_row,
    user_from_row,
    word_from_row,
    word_rows,
    write_reference_audio,
)
from adapters.persistence.models import ActorRow, BookmarkRow, ScriptRow, TokenRow, UserRow, WordRow
from application.ports.persistence import (
    ActorFilter,
    BookmarkedItem,
    Page,
    PageRequest,
    ScriptFilter,
    TokenFilter,
    TokenWithActor,
)
from domain.accounts import User
from domain.bookmarks import Bookmark
from domain.catalog import Actor, ReferenceKind, Script, Token, Word


def contains(column: Any, needle: str) -> ColumnElement[bool]:
    """Case-insensitive substring match with LIKE wildcards in the needle taken literally."""
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    condition: ColumnElement[bool] = column.ilike(f"%{escaped}%", escape="\\")
    return condition


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

    async def has_tokens(self, actor_id: UUID) -> bool:
        return bool(await self._session.scalar(select(exists().where(TokenRow.actor_id == actor_id))))

    async def list(self, filters: ActorFilter, page: PageRequest) -> Page[Actor]:
        query = select(ActorRow)
        if filters.search:
            query = query.where(
                or_(contains(ActorRow.name, filters.search), contains(ActorRow.bio, filters.search))
            )
        rows, total = await _page(self._session, query, page, (ActorRow.name, ActorRow.id))
        return Page([actor_from_row(row) for row in rows], total, page.limit, page.offset)


class SqlaTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, token: Token) -> None:
        row = TokenRow(id=token.id, created_at=token.created_at, words=word_rows(token.words))
        self._copy(token, row)
        self._session.add(row)
        await self._session.flush()

    async def get(self, token_id: UUID) -> Token | None:
        row = await self._load(token_id)
        return token_from_row(row) if row else None

    async def get_with_actor(self, token_id: UUID) -> TokenWithActor | None:
        row = await self._load(token_id)
        return TokenWithActor(token_from_row(row), actor_from_row(row.actor)) if row else None

    async def save(self, token: Token) -> None:
        row = await self._load(token.id)
        if row is None:
            raise LookupError(token.id)
        await _replace_words(self._session, row.words, token.words)
        self._copy(token, row)
        await self._session.flush()

    async def delete(self, token_id: UUID) -> None:
        await self._session.execute(delete(TokenRow).where(TokenRow.id == token_id))

    async def list(self, filters: TokenFilter, page: PageRequest) -> Page[TokenWithActor]:
        query = select(TokenRow).options(joinedload(TokenRow.actor), selectinload(TokenRow.words))
        if filters.actor_id is not None:
            query = query.where(TokenRow.actor_id == filters.actor_id)
        if filters.movie_title:
            query = query.where(contains(TokenRow.movie_title, filters.movie_title))
        if filters.search:
            query = query.where(
                or_(contains(TokenRow.text, filters.search), contains(TokenRow.movie_title, filters.search))
            )
        rows, total = await _page(self._session, query, page, (TokenRow.created_at.desc(), TokenRow.id))
        items = [TokenWithActor(token_from_row(row), actor_from_row(row.actor)) for row in rows]
        return Page(items, total, page.limit, page.offset)

    async def _load(self, token_id: UUID) -> TokenRow | None:
        query = (
            select(TokenRow)
            .where(TokenRow.id == token_id)
            .options(joinedload(TokenRow.actor), selectinload(TokenRow.words))
        )
        return await self._session.scalar(query)

    @staticmethod
    def _copy(token: Token, row: TokenRow) -> None:
        row.actor_id, row.movie_title, row.movie_year, row.text = (
            token.actor_id,
            token.movie_title,
            token.movie_year,
            token.text,
        )
        write_reference_audio(row, token.reference_audio)


class SqlaScriptRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, script: Script) -> None:
        row = ScriptRow(id=script.id, created_at=script.created_at, words=word_rows(script.words))
        self._copy(script, row)
        self._session.add(row)
        await self._session.flush()

    async def get(self, script_id: UUID) -> Script | None:
        row = await self._load(script_id)
        return script_from_row(row) if row else None

    async def save(self, script: Script) -> None:
        row = await self._load(script.id)
        if row is None:
            raise LookupError(script.id)
        await _replace_words(self._session, row.words, script.words)
        self._copy(script, row)
        await self._session.flush()

    async def delete(self, script_id: UUID) -> None:
        await self._session.execute(delete(ScriptRow).where(ScriptRow.id == script_id))

    async def list(self, filters: ScriptFilter, page: PageRequest) -> Page[Script]:
        query = select(ScriptRow)
        if filters.title:
            query = query.where(contains(ScriptRow.title, filters.title))
        if filters.search:
            query = query.where(
                or_(contains(ScriptRow.title, filters.search), contains(ScriptRow.text, filters.search))
            )
        rows, total = await _page(self._session, query, page, (ScriptRow.title, ScriptRow.id))
        return Page([script_from_row(row, with_words=False) for row in rows], total, page.limit, page.offset)

    async def _load(self, script_id: UUID) -> ScriptRow | None:
        query = select(ScriptRow).where(ScriptRow.id == script_id).options(selectinload(ScriptRow.words))
        return await self._session.scalar(query)

    @staticmethod
    def _copy(script: Script, row: ScriptRow) -> None:
        row.title, row.text, row.feature_config_version = (
            script.title,
            script.text,
            script.feature_config_version,
        )
        write_reference_audio(row, script.reference_audio)


class SqlaBookmarkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, bookmark: Bookmark) -> bool:
        is_token = bookmark.kind is ReferenceKind.TOKEN
        target_column = "token_id" if is_token else "script_id"
        statement = (
            insert(BookmarkRow)
            .values(
                user_id=bookmark.user_id,
                bookmarked_at=bookmark.created_at,
                **{target_column: bookmark.target_id},
            )
            .on_conflict_do_nothing(
                index_elements=["user_id", target_column],
                index_where=BookmarkRow.token_id.is_not(None)
                if is_token
                else BookmarkRow.script_id.is_not(None),
            )
            .returning(BookmarkRow.id)
        )
        return (await self._session.scalar(statement)) is not None

    async def remove(self, user_id: UUID, kind: ReferenceKind, target_id: UUID) -> bool:
        column = BookmarkRow.token_id if kind is ReferenceKind.TOKEN else BookmarkRow.script_id
        result = await self._session.execute(
            delete(BookmarkRow)
            .where(BookmarkRow.user_id == user_id, column == target_id)
            .returning(BookmarkRow.id)
        )
        return result.first() is not None

    async def list_for_user(self, user_id: UUID) -> list[BookmarkedItem]:
        query = (
            select(BookmarkRow)
            .where(BookmarkRow.user_id == user_id)
            .options(
                joinedload(BookmarkRow.token).joinedload(TokenRow.actor),
                joinedload(BookmarkRow.token).selectinload(TokenRow.words),
                joinedload(BookmarkRow.script),
            )
            .order_by(BookmarkRow.bookmarked_at.desc(), BookmarkRow.id)
        )
        rows = (await self._session.scalars(query)).unique().all()
        return [self._item(row) for row in rows]

    @staticmethod
    def _item(row: BookmarkRow) -> BookmarkedItem:
        kind = ReferenceKind.TOKEN if row.token_id is not None else ReferenceKind.SCRIPT
        target_id = row.token_id or row.script_id
        assert target_id is not None  # guaranteed by the one_target check constraint
        bookmark = Bookmark(user_id=row.user_id, kind=kind, target_id=target_id, created_at=row.bookmarked_at)
        token = (
            TokenWithActor(token_from_row(row.token), actor_from_row(row.token.actor)) if row.token else None
        )
        script = script_from_row(row.script, with_words=False) if row.script else None
        return BookmarkedItem(bookmark=bookmark, token=token, script=script)
