"""The signed-in user's page; the bookmark routes are in practice_items."""

from __future__ import annotations

from litestar import Controller, get

from application.ports.persistence import PageRequest
from entrypoints.http.schemas import MyPageOut
from entrypoints.http.security import PRINCIPAL, Caller, Services


class MyPageController(Controller):
    tags = ["bookmarks"]
    dependencies = PRINCIPAL

    @get("/mypage")
    async def my_page(self, services: Services, principal: Caller) -> MyPageOut:
        """The signed-in user's profile, bookmarks, recent analyses and score statistics."""
        page = await services.bookmarks.my_page(principal)
        history = await services.jobs.history(principal, PageRequest(limit=10))
        return MyPageOut.of(page, history)
