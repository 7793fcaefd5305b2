"""Bookmarks and the signed-in user's page."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, Response, delete, get, put
from litestar.params import FromPath

from application.analysis.jobs import UserJobs
from application.bookmarks import Bookmarks
from application.ports.persistence import PageRequest
from domain.catalog import ReferenceKind
from entrypoints.http.dependencies import Injected
from entrypoints.http.schemas import MyPageOut
from entrypoints.http.security import Caller


class BookmarkController(Controller):
    tags = ["bookmarks"]

    @put("/tokens/{token_id:uuid}/bookmark", status_code=201)
    async def bookmark_token(
        self,
        bookmarks: Injected[Bookmarks],
        principal: Caller,
        token_id: FromPath[UUID],
    ) -> Response[None]:
        """Bookmark a token (201 when new, 204 when it was bookmarked already)."""
        created = await bookmarks.add(principal, ReferenceKind.TOKEN, token_id)
        return Response(None, status_code=201 if created else 204)

    @delete("/tokens/{token_id:uuid}/bookmark", status_code=204)
    async def unbookmark_token(
        self,
        bookmarks: Injected[Bookmarks],
        principal: Caller,
        token_id: FromPath[UUID],
    ) -> None:
        """Remove a token bookmark (404 when there was none)."""
        await bookmarks.remove(principal, ReferenceKind.TOKEN, token_id)

    @put("/scripts/{script_id:uuid}/bookmark", status_code=201)
    async def bookmark_script(
        self,
        bookmarks: Injected[Bookmarks],
        principal: Caller,
        script_id: FromPath[UUID],
    ) -> Response[None]:
        """Bookmark a script (201 when new, 204 when it was bookmarked already)."""
        created = await bookmarks.add(principal, ReferenceKind.SCRIPT, script_id)
        return Response(None, status_code=201 if created else 204)

    @delete("/scripts/{script_id:uuid}/bookmark", status_code=204)
    async def unbookmark_script(
        self,
        bookmarks: Injected[Bookmarks],
        principal: Caller,
        script_id: FromPath[UUID],
    ) -> None:
        """Remove a script bookmark (404 when there was none)."""
        await bookmarks.remove(principal, ReferenceKind.SCRIPT, script_id)

    @get("/mypage")
    async def my_page(
        self, bookmarks: Injected[Bookmarks], jobs: Injected[UserJobs], principal: Caller
    ) -> MyPageOut:
        """The signed-in user's profile, bookmarks, recent analyses and score statistics."""
        page = await bookmarks.my_page(principal)
        history = await jobs.history(principal, PageRequest(limit=10))
        return MyPageOut.of(page, history)
