"""The SQLAlchemy unit of work and repositories against real Postgres."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from application.ports.persistence import ActorFilter, PageRequest
from domain.accounts import Role, User
from domain.bookmarks import Bookmark
from domain.catalog import Actor, ReferenceKind, Script, Token, Word
from domain.errors import ConflictError
from tests.integration.persistence.conftest import UnitOfWorkFactory


def a_user(email: str = "ada@example.com") -> User:
    return User(
        id=uuid4(),
        email=email,
        display_name="Ada",
        password_hash="argon2-hash-placeholder",
        role=Role.USER,
        created_at=datetime.now(UTC),
    )


def an_actor(name: str = "Meryl Streep") -> Actor:
    return Actor(id=uuid4(), name=name, bio="", created_at=datetime.now(UTC))


async def store_user(unit_of_work: UnitOfWorkFactory, user: User) -> None:
    async with unit_of_work() as uow:
        await uow.users.add(user)
        await uow.commit()


async def store_actors(unit_of_work: UnitOfWorkFactory, *names: str) -> None:
    async with unit_of_work() as uow:
        for name in names:
            await uow.actors.add(an_actor(name))
        await uow.commit()


async def store_token(unit_of_work: UnitOfWorkFactory) -> UUID:
    actor = an_actor()
    token = Token(
        id=uuid4(),
        actor_id=actor.id,
        movie_title="Doubt",
        movie_year=2008,
        text="I have doubts.",
        created_at=datetime.now(UTC),
    )
    async with unit_of_work() as uow:
        await uow.actors.add(actor)
        await uow.tokens.add(token)
        await uow.commit()
    return token.id


async def test_leaving_the_block_without_commit_rolls_back(unit_of_work: UnitOfWorkFactory) -> None:
    user = a_user()
    async with unit_of_work() as uow:
        await uow.users.add(user)
        assert await uow.users.get(user.id) is not None

    async with unit_of_work() as uow:
        assert await uow.users.get(user.id) is None


async def test_adding_a_second_account_with_the_same_email_is_a_conflict(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    await store_user(unit_of_work, a_user("taken@example.com"))

    with pytest.raises(ConflictError):
        await store_user(unit_of_work, a_user("taken@example.com"))


async def test_racing_check_then_insert_sign_ups_let_exactly_one_commit(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    both_checked = asyncio.Barrier(2)

    async def check_then_insert(user: User) -> None:
        async with unit_of_work() as uow:
            vacant = await uow.users.get_by_email(user.email) is None
            await both_checked.wait()  # neither has inserted yet, so both saw the email vacant
            if vacant:
                await uow.users.add(user)
                await uow.commit()

    outcomes = await asyncio.wait_for(
        asyncio.gather(
            check_then_insert(a_user("race@example.com")),
            check_then_insert(a_user("race@example.com")),
            return_exceptions=True,
        ),
        timeout=10,
    )
    assert [type(outcome) for outcome in outcomes if outcome is not None] == [ConflictError]


async def test_script_words_come_back_ordered_by_index_with_their_reference_features(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    features = {"mfcc": [[1.5, -2.25], [0.0, 3.125]], "hop_seconds": 0.01, "config": "mfcc-13@v1"}
    words = [
        Word(index=0, text="To", start=0.0, end=0.2, reference_features=features),
        Word(index=1, text="be", start=0.2, end=0.45, reference_features=None),
        Word(index=2, text="free", start=0.5, end=0.9, reference_features={"mfcc": [[-1.0]]}),
    ]
    script = Script(
        id=uuid4(),
        title="Freedom",
        text="To be free",
        created_at=datetime.now(UTC),
        # Stored out of order so that only an ORDER BY can return them by index.
        words=list(reversed(words)),
    )
    async with unit_of_work() as uow:
        await uow.scripts.add(script)
        await uow.commit()

    async with unit_of_work() as uow:
        loaded = await uow.scripts.get(script.id)
    assert loaded is not None
    assert loaded.words == words


async def test_adding_the_same_bookmark_twice_reports_it_existed(unit_of_work: UnitOfWorkFactory) -> None:
    user = a_user()
    await store_user(unit_of_work, user)
    token_id = await store_token(unit_of_work)
    bookmark = Bookmark(
        user_id=user.id, kind=ReferenceKind.TOKEN, target_id=token_id, created_at=datetime.now(UTC)
    )

    async with unit_of_work() as uow:
        added = [await uow.bookmarks.add(bookmark), await uow.bookmarks.add(bookmark)]
        await uow.commit()
    assert added == [True, False]


async def test_removing_a_bookmark_that_does_not_exist_returns_false(unit_of_work: UnitOfWorkFactory) -> None:
    user = a_user()
    await store_user(unit_of_work, user)
    token_id = await store_token(unit_of_work)

    async with unit_of_work() as uow:
        assert await uow.bookmarks.remove(user.id, ReferenceKind.TOKEN, token_id) is False


async def test_removing_an_existing_bookmark_returns_true(unit_of_work: UnitOfWorkFactory) -> None:
    user = a_user()
    await store_user(unit_of_work, user)
    token_id = await store_token(unit_of_work)
    async with unit_of_work() as uow:
        await uow.bookmarks.add(
            Bookmark(
                user_id=user.id, kind=ReferenceKind.TOKEN, target_id=token_id, created_at=datetime.now(UTC)
            )
        )
        await uow.commit()

    async with unit_of_work() as uow:
        assert await uow.bookmarks.remove(user.id, ReferenceKind.TOKEN, token_id) is True


@pytest.mark.parametrize(
    ("search", "names", "expected"),
    [
        ("10%", ["10% Club", "100 Club"], ["10% Club"]),
        ("n_L", ["Ann_Lee", "AnnXLee"], ["Ann_Lee"]),
        ("a\\b", ["a\\b", "ab"], ["a\\b"]),
    ],
    ids=["percent", "underscore", "backslash"],
)
async def test_search_takes_like_wildcards_literally(
    unit_of_work: UnitOfWorkFactory, search: str, names: list[str], expected: list[str]
) -> None:
    await store_actors(unit_of_work, *names)

    async with unit_of_work() as uow:
        page = await uow.actors.list(ActorFilter(search=search), PageRequest())
    assert [actor.name for actor in page.items] == expected
