"""Bookmark use cases against in-memory fakes."""

from __future__ import annotations

from uuid import UUID

import pytest
from tests.unit.application.fakes import (
    FakeAligner,
    FakeDatabase,
    FakeFeatureExtractor,
    FakeInspector,
    FixedClock,
    InMemoryStorage,
    SequentialIds,
    random_id,
)

from application.bookmarks import Bookmarks
from application.catalog import CatalogAdministration, ScriptInput
from domain.accounts import Principal, Role, User
from domain.audio import AudioLimits
from domain.catalog import ReferenceKind
from domain.errors import NotFoundError


@pytest.fixture
def database() -> FakeDatabase:
    return FakeDatabase()


async def _script_id(database: FakeDatabase) -> UUID:
    admin = CatalogAdministration(
        database,
        InMemoryStorage(),
        FakeInspector(),
        AudioLimits(10, 1.0),
        FixedClock(),
        SequentialIds(),
        FakeFeatureExtractor(),
        FakeAligner(),
    )
    return (await admin.create_item(Principal(random_id(), Role.ADMIN), ScriptInput("T", "text"))).id


async def test_bookmarking_twice_keeps_one_bookmark(database: FakeDatabase) -> None:
    script_id = await _script_id(database)
    user = Principal(random_id(), Role.USER)
    bookmarks = Bookmarks(database, FixedClock())
    assert await bookmarks.add(user, ReferenceKind.SCRIPT, script_id) is True
    assert await bookmarks.add(user, ReferenceKind.SCRIPT, script_id) is False
    assert len(database.tables.bookmarks) == 1


async def test_bookmarking_an_unknown_target_is_not_found(database: FakeDatabase) -> None:
    with pytest.raises(NotFoundError):
        await Bookmarks(database, FixedClock()).add(
            Principal(random_id(), Role.USER), ReferenceKind.TOKEN, random_id()
        )
    assert database.tables.bookmarks == {}


async def test_a_script_cannot_be_bookmarked_or_unbookmarked_as_a_token(database: FakeDatabase) -> None:
    script_id = await _script_id(database)
    user = Principal(random_id(), Role.USER)
    bookmarks = Bookmarks(database, FixedClock())
    with pytest.raises(NotFoundError):
        await bookmarks.add(user, ReferenceKind.TOKEN, script_id)
    await bookmarks.add(user, ReferenceKind.SCRIPT, script_id)
    with pytest.raises(NotFoundError):
        await bookmarks.remove(user, ReferenceKind.TOKEN, script_id)
    assert len(database.tables.bookmarks) == 1


async def test_removing_a_missing_bookmark_is_not_found(database: FakeDatabase) -> None:
    with pytest.raises(NotFoundError):
        await Bookmarks(database, FixedClock()).remove(
            Principal(random_id(), Role.USER), ReferenceKind.TOKEN, random_id()
        )


async def test_my_page_lists_only_the_callers_bookmarks(database: FakeDatabase) -> None:
    script_id = await _script_id(database)
    clock = FixedClock()
    me = User(random_id(), "me@example.com", "Me", "x", Role.USER, clock.now())
    database.tables.users[me.id] = me
    bookmarks = Bookmarks(database, clock)
    await bookmarks.add(Principal(me.id, Role.USER), ReferenceKind.SCRIPT, script_id)
    await bookmarks.add(Principal(random_id(), Role.USER), ReferenceKind.SCRIPT, script_id)
    page = await bookmarks.my_page(Principal(me.id, Role.USER))
    assert page.user.email == "me@example.com"
    assert [(item.bookmark.user_id, item.item.id) for item in page.bookmarks] == [(me.id, script_id)]
