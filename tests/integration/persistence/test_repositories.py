"""The SQLAlchemy unit of work and repositories against real Postgres."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from application.ports.persistence import (
    ActorFilter,
    JobStreamHead,
    MovieLineFilter,
    PageRequest,
    ScriptFilter,
)
from domain.accounts import Role, User
from domain.analysis.jobs import Job, JobStatus, Recording
from domain.bookmarks import Bookmark
from domain.catalog import Actor, MovieLine, PracticeItem, ReferenceAudio, ReferenceKind, ScriptDetail, Word
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


def a_movie_line(actor: Actor) -> PracticeItem:
    return PracticeItem(
        id=uuid4(),
        detail=MovieLine(actor, movie_title="Doubt", movie_year=2008),
        text="I have doubts.",
        created_at=datetime.now(UTC),
        words=[Word(index=0, text="I", start=0.0, end=0.2)],
    )


def a_script(title: str = "Freedom", words: list[Word] | None = None) -> PracticeItem:
    return PracticeItem(uuid4(), ScriptDetail(title), "To be free", datetime.now(UTC), words or [])


async def store_items(unit_of_work: UnitOfWorkFactory, *items: PracticeItem) -> None:
    async with unit_of_work() as uow:
        for item in items:
            await uow.items.add(item)
        await uow.commit()


async def store_token(unit_of_work: UnitOfWorkFactory) -> UUID:
    actor = an_actor()
    line = a_movie_line(actor)
    async with unit_of_work() as uow:
        await uow.actors.add(actor)
        await uow.items.add(line)
        await uow.commit()
    return line.id


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
    # Stored out of order so that only an ORDER BY can return them by index.
    script = a_script(words=list(reversed(words)))
    await store_items(unit_of_work, script)

    async with unit_of_work() as uow:
        loaded = await uow.items.get(script.id)
    assert loaded is not None
    assert loaded.words == words


async def test_adding_the_same_bookmark_twice_reports_it_existed(unit_of_work: UnitOfWorkFactory) -> None:
    user = a_user()
    await store_user(unit_of_work, user)
    token_id = await store_token(unit_of_work)
    bookmark = Bookmark(user_id=user.id, item_id=token_id, created_at=datetime.now(UTC))

    async with unit_of_work() as uow:
        added = [await uow.bookmarks.add(bookmark), await uow.bookmarks.add(bookmark)]
        await uow.commit()
    assert added == [True, False]


async def test_removing_a_bookmark_that_does_not_exist_returns_false(unit_of_work: UnitOfWorkFactory) -> None:
    user = a_user()
    await store_user(unit_of_work, user)
    token_id = await store_token(unit_of_work)

    async with unit_of_work() as uow:
        assert await uow.bookmarks.remove(user.id, token_id) is False


async def test_removing_an_existing_bookmark_returns_true(unit_of_work: UnitOfWorkFactory) -> None:
    user = a_user()
    await store_user(unit_of_work, user)
    token_id = await store_token(unit_of_work)
    async with unit_of_work() as uow:
        await uow.bookmarks.add(Bookmark(user_id=user.id, item_id=token_id, created_at=datetime.now(UTC)))
        await uow.commit()

    async with unit_of_work() as uow:
        assert await uow.bookmarks.remove(user.id, token_id) is True


async def test_any_practice_item_loads_by_id_with_its_detail(unit_of_work: UnitOfWorkFactory) -> None:
    actor = an_actor()
    line, script = a_movie_line(actor), a_script()
    async with unit_of_work() as uow:
        await uow.actors.add(actor)
        await uow.items.add(line)
        await uow.items.add(script)
        await uow.commit()

    async with unit_of_work() as uow:
        loaded = [await uow.items.get(line.id), await uow.items.get(script.id)]
    assert loaded == [line, script]
    assert [item.kind for item in loaded if item] == [ReferenceKind.TOKEN, ReferenceKind.SCRIPT]


async def test_saving_an_item_updates_its_detail_text_and_words(unit_of_work: UnitOfWorkFactory) -> None:
    actor, other = an_actor(), an_actor("Viola Davis")
    line = a_movie_line(actor)
    async with unit_of_work() as uow:
        await uow.actors.add(actor)
        await uow.actors.add(other)
        await uow.items.add(line)
        await uow.commit()
    line.detail = MovieLine(other, "Fences", None)
    line.text, line.words = "Another line.", [Word(0, "Another", 0.0, 0.4), Word(1, "line", 0.5, 0.9)]
    async with unit_of_work() as uow:
        await uow.items.save(line)
        await uow.commit()

    async with unit_of_work() as uow:
        assert await uow.items.get(line.id) == line
        assert await uow.actors.has_movie_lines(other.id) is True
        assert await uow.actors.has_movie_lines(actor.id) is False


async def test_lines_and_scripts_are_listed_apart(unit_of_work: UnitOfWorkFactory) -> None:
    actor = an_actor()
    line = a_movie_line(actor)
    scripts = [a_script("Zebra"), a_script("Aardvark", [Word(0, "To", 0.0, 0.2)])]
    async with unit_of_work() as uow:
        await uow.actors.add(actor)
        for item in [line, *scripts]:
            await uow.items.add(item)
        await uow.commit()

    async with unit_of_work() as uow:
        lines = await uow.items.list_movie_lines(MovieLineFilter(actor_id=actor.id), PageRequest())
        listed = await uow.items.list_scripts(ScriptFilter(search="to be"), PageRequest())
    assert [item.id for item in lines.items] == [line.id]
    assert lines.items[0].words == line.words
    titles = [
        item.detail_as(ScriptDetail).title for item in listed.items if item.id in {s.id for s in scripts}
    ]
    assert titles == ["Aardvark", "Zebra"]
    assert all(item.words == [] for item in listed.items)


async def test_deleting_an_item_drops_its_bookmarks_and_keeps_its_jobs_without_it(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    user = a_user(f"{uuid4().hex[:8]}@example.com")
    await store_user(unit_of_work, user)
    token_id = await store_token(unit_of_work)
    job = Job.create(
        uuid4(), user.id, ReferenceKind.TOKEN, token_id, datetime.now(UTC), None, deadline=timedelta(hours=1)
    )
    async with unit_of_work() as uow:
        await uow.bookmarks.add(Bookmark(user.id, token_id, datetime.now(UTC)))
        await uow.jobs.add(job)
        await uow.commit()
    async with unit_of_work() as uow:
        assert [entry.item.id for entry in await uow.bookmarks.list_for_user(user.id)] == [token_id]
        await uow.items.delete(token_id)
        await uow.commit()

    async with unit_of_work() as uow:
        assert await uow.items.get(token_id) is None
        assert await uow.bookmarks.list_for_user(user.id) == []
        kept = await uow.jobs.get(job.id)
    assert kept is not None
    assert (kept.kind, kept.item_id) == (ReferenceKind.TOKEN, None)


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


RECORDING = Recording("recordings/a.wav", "audio/wav", 1.0, 32_000)


async def _a_users_jobs(unit_of_work: UnitOfWorkFactory) -> tuple[User, Callable[[Recording | None], Job]]:
    """A stored user and token, and a maker of that user's new (unstored) jobs on the token."""
    user = a_user(f"{uuid4().hex[:8]}@example.com")
    await store_user(unit_of_work, user)
    token_id = await store_token(unit_of_work)

    def new_job(recording: Recording | None) -> Job:
        return Job.create(
            uuid4(), user.id, ReferenceKind.TOKEN, token_id, datetime.now(UTC), recording,
            deadline=timedelta(hours=1),
        )  # fmt: skip

    return user, new_job


async def test_stream_heads_read_many_jobs_owner_status_and_newest_event_in_one_call(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    user, new_job = await _a_users_jobs(unit_of_work)
    queued, waiting = new_job(RECORDING), new_job(None)
    now = datetime.now(UTC)
    progressed = queued.report_progress(50, "features", now)
    assert progressed is not None
    async with unit_of_work() as uow:
        await uow.jobs.add(queued)
        await uow.jobs.add(waiting)
        await uow.commit()
    async with unit_of_work() as uow:
        await uow.jobs.save(queued)
        await uow.commit()

    async with unit_of_work() as uow:
        heads = await uow.job_events.stream_heads([queued.id, waiting.id, uuid4()])

    assert heads == {
        queued.id: JobStreamHead(user.id, JobStatus.PROCESSING, 2),
        waiting.id: JobStreamHead(user.id, JobStatus.AWAITING_UPLOAD, 0),
    }


async def test_events_after_many_positions_are_read_in_one_call_each_from_its_own_position(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    _, new_job = await _a_users_jobs(unit_of_work)
    first, second = new_job(RECORDING), new_job(RECORDING)
    now = datetime.now(UTC)
    for percent in (10, 20, 30, 40):
        first.report_progress(percent, "features", now)
    async with unit_of_work() as uow:
        await uow.jobs.add(first)
        await uow.jobs.add(second)
        await uow.commit()
    unknown = uuid4()

    async with unit_of_work() as uow:
        found = await uow.job_events.list_after_many(
            [(first.id, 0), (first.id, 3), (second.id, 0), (second.id, 1), (unknown, 0)], 2
        )

    assert {position: [e.sequence for e in events] for position, events in found.items()} == {
        (first.id, 0): [1, 2],  # at most the page, oldest first
        (first.id, 3): [4, 5],
        (second.id, 0): [1],
    }
    assert all(e.job_id == position[0] for position, events in found.items() for e in events)
    assert found[(first.id, 3)][0].data["progress"] == 30


async def test_an_items_reference_state_is_its_kind_and_whether_its_audio_is_stored(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    with_audio = a_script("Heard")
    with_audio.reference_audio = ReferenceAudio("references/heard.wav", "audio/wav", 2.0)
    without_audio = a_script("Silent")
    await store_items(unit_of_work, with_audio, without_audio)

    async with unit_of_work() as uow:
        states = [await uow.items.reference_state(item.id) for item in (with_audio, without_audio)]
        missing = await uow.items.reference_state(uuid4())

    assert states == [(ReferenceKind.SCRIPT, True), (ReferenceKind.SCRIPT, False)]
    assert missing is None
