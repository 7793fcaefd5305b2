"""Persistence ports: repositories per aggregate and the unit of work that commits them together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar
from uuid import UUID

from domain.accounts import User
from domain.bookmarks import Bookmark
from domain.catalog import Actor, ReferenceKind, Script, Token

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class TokenWithActor:
    token: Token
    actor: Actor


@dataclass(frozen=True, slots=True)
class ActorFilter:
    search: str | None = None


@dataclass(frozen=True, slots=True)
class TokenFilter:
    actor_id: UUID | None = None
    movie_title: str | None = None
    search: str | None = None


@dataclass(frozen=True, slots=True)
class ScriptFilter:
    title: str | None = None
    search: str | None = None


@dataclass(frozen=True, slots=True)
class BookmarkedItem:
    bookmark: Bookmark
    token: TokenWithActor | None
    script: Script | None


class UserRepository(Protocol):
    async def add(self, user: User) -> None: ...
    async def get(self, user_id: UUID) -> User | None: ...
    async def get_by_email(self, email: str) -> User | None: ...
    async def save(self, user: User) -> None: ...


class ActorRepository(Protocol):
    async def add(self, actor: Actor) -> None: ...
    async def get(self, actor_id: UUID) -> Actor | None: ...
    async def save(self, actor: Actor) -> None: ...
    async def delete(self, actor_id: UUID) -> None: ...
    async def has_tokens(self, actor_id: UUID) -> bool: ...
    async def list(self, filters: ActorFilter, page: PageRequest) -> Page[Actor]: ...


class TokenRepository(Protocol):
    async def add(self, token: Token) -> None: ...
    async def get(self, token_id: UUID) -> Token | None: ...
    async def get_with_actor(self, token_id: UUID) -> TokenWithActor | None: ...
    async def save(self, token: Token) -> None: ...
    async def delete(self, token_id: UUID) -> None: ...
    async def list(self, filters: TokenFilter, page: PageRequest) -> Page[TokenWithActor]: ...


class ScriptRepository(Protocol):
    async def add(self, script: Script) -> None: ...
    async def get(self, script_id: UUID) -> Script | None: ...
    async def save(self, script: Script) -> None: ...
    async def delete(self, script_id: UUID) -> None: ...
    async def list(self, filters: ScriptFilter, page: PageRequest) -> Page[Script]: ...


class BookmarkRepository(Protocol):
    async def add(self, bookmark: Bookmark) -> bool:
        """Store the bookmark; False when the user had bookmarked that target already."""
        ...

    async def remove(self, user_id: UUID, kind: ReferenceKind, target_id: UUID) -> bool: ...
    async def list_for_user(self, user_id: UUID) -> list[BookmarkedItem]: ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without ``commit()`` rolls back."""

    @property
    def users(self) -> UserRepository: ...
    @property
    def actors(self) -> ActorRepository: ...
    @property
    def tokens(self) -> TokenRepository: ...
    @property
    def scripts(self) -> ScriptRepository: ...
    @property
    def bookmarks(self) -> BookmarkRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None:
        """Raise ``ConflictError`` when a uniqueness rule is broken by a concurrent writer."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
