"""The signed-in user's page; the bookmark routes are in practice_items."""

from __future__ import annotations

from litestar import Controller, get

from application.analysis.jobs import UserJobs
from application.bookmarks import Bookmarks
from application.ports.persistence import PageRequest
from entrypoints.http.dependencies import Injected
from entrypoints.http.schemas import MyPageOut
from entrypoints.http.security import Caller


class MyPageController(Controller):
    tags = ["bookmarks"]

    @get("/mypage")
    async def my_page(
        self, bookmarks: Injected[Bookmarks], jobs: Injected[UserJobs], principal: Caller
    ) -> MyPageOut:
        """The signed-in user's profile, bookmarks, recent analyses and score statistics."""
        page = await bookmarks.my_page(principal)
        history = await jobs.history(principal, PageRequest(limit=10))
        return MyPageOut.of(page, history)
