"""Catalog use cases against in-memory fakes: authorisation, rules and reference audio storage."""

from __future__ import annotations

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

from application.catalog import ActorInput, CatalogAdministration, CatalogQueries, MovieLineInput, ScriptInput
from domain.accounts import Principal, Role
from domain.audio import AudioLimits, AudioTooLongError
from domain.catalog import MovieLine, ReferenceKind, Word
from domain.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError

ADMIN = Principal(random_id(), Role.ADMIN)
USER = Principal(random_id(), Role.USER)


@pytest.fixture
def database() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def storage() -> InMemoryStorage:
    return InMemoryStorage()


@pytest.fixture
def aligner() -> FakeAligner:
    return FakeAligner()


@pytest.fixture
def admin(database: FakeDatabase, storage: InMemoryStorage, aligner: FakeAligner) -> CatalogAdministration:
    return CatalogAdministration(
        database,
        storage,
        FakeInspector(),
        AudioLimits(1_000_000, 60.0),
        FixedClock(),
        SequentialIds(),
        FakeFeatureExtractor(),
        aligner,
    )


async def test_users_cannot_write_the_catalog(admin: CatalogAdministration, database: FakeDatabase) -> None:
    with pytest.raises(PermissionDeniedError):
        await admin.create_actor(USER, ActorInput("Someone"))
    assert database.commits == 0


async def test_a_token_needs_an_existing_actor(admin: CatalogAdministration) -> None:
    with pytest.raises(InvalidInputError) as raised:
        await admin.create_item(ADMIN, MovieLineInput(random_id(), "Movie", "A line"))
    assert raised.value.field == "actor_id"


async def test_an_actor_with_tokens_cannot_be_deleted(admin: CatalogAdministration) -> None:
    actor = await admin.create_actor(ADMIN, ActorInput("Actor"))
    await admin.create_item(ADMIN, MovieLineInput(actor.id, "Movie", "A line"))
    with pytest.raises(ConflictError):
        await admin.delete_actor(ADMIN, actor.id)


async def test_overlapping_word_timings_are_rejected(admin: CatalogAdministration) -> None:
    words = [Word(0, "hello", 0.0, 0.5), Word(1, "there", 0.4, 0.9)]
    with pytest.raises(InvalidInputError) as raised:
        await admin.create_item(ADMIN, ScriptInput("Title", "hello there", words))
    assert raised.value.field == "words[1].start"


async def test_movie_year_outside_cinema_history_is_rejected(admin: CatalogAdministration) -> None:
    actor = await admin.create_actor(ADMIN, ActorInput("Actor"))
    with pytest.raises(InvalidInputError) as raised:
        await admin.create_item(ADMIN, MovieLineInput(actor.id, "Movie", "Line", movie_year=1500))
    assert raised.value.field == "movie_year"


async def test_reference_upload_stores_the_audio_and_replaces_the_previous_object(
    admin: CatalogAdministration, storage: InMemoryStorage, database: FakeDatabase
) -> None:
    script = await admin.create_item(ADMIN, ScriptInput("Title", "Some text"))
    first = await admin.upload_reference_audio(ADMIN, ReferenceKind.SCRIPT, script.id, b"wav:2.5")
    second = await admin.upload_reference_audio(ADMIN, ReferenceKind.SCRIPT, script.id, b"wav:3.0")
    assert list(storage.objects) == [second.key]
    assert second.key.startswith(f"references/scripts/{script.id}/")
    assert second.key.endswith(".wav")
    assert storage.objects[second.key] == (b"wav:3.0", "audio/wav")
    stored = database.tables.items[script.id].reference_audio
    assert stored is not None
    assert stored.duration_seconds == 3.0
    assert first.key != second.key


async def test_reference_upload_removes_the_new_object_when_the_commit_fails(
    admin: CatalogAdministration, storage: InMemoryStorage, database: FakeDatabase
) -> None:
    script = await admin.create_item(ADMIN, ScriptInput("Title", "Some text"))
    database.fail_next_commit = True
    with pytest.raises(ConflictError):
        await admin.upload_reference_audio(ADMIN, ReferenceKind.SCRIPT, script.id, b"wav:2.5")
    assert storage.objects == {}
    assert database.tables.items[script.id].reference_audio is None


async def test_rejected_reference_audio_stores_nothing(
    admin: CatalogAdministration, storage: InMemoryStorage
) -> None:
    script = await admin.create_item(ADMIN, ScriptInput("Title", "Some text"))
    with pytest.raises(AudioTooLongError):
        await admin.upload_reference_audio(ADMIN, ReferenceKind.SCRIPT, script.id, b"wav:600")
    assert storage.objects == {}


async def test_reference_audio_url_of_a_token_without_audio_is_not_found(
    admin: CatalogAdministration, database: FakeDatabase, storage: InMemoryStorage
) -> None:
    actor = await admin.create_actor(ADMIN, ActorInput("Actor"))
    token = await admin.create_item(ADMIN, MovieLineInput(actor.id, "Movie", "Line"))
    with pytest.raises(NotFoundError):
        await CatalogQueries(database, storage).reference_audio_url(ReferenceKind.TOKEN, token.id)


async def test_script_reference_upload_stores_versioned_features_for_every_word(
    admin: CatalogAdministration, database: FakeDatabase
) -> None:
    words = [Word(0, "hello", 0.1, 0.4), Word(1, "there", 0.5, 0.9)]
    script = await admin.create_item(ADMIN, ScriptInput("Title", "hello there", words))
    await admin.upload_reference_audio(ADMIN, ReferenceKind.SCRIPT, script.id, b"wav:2.0")
    stored = database.tables.items[script.id]
    assert stored.feature_config_version == "fake-features/1"
    assert [w.reference_features for w in stored.words] == [
        {"span": [0.1, 0.4], "audio_bytes": 7},
        {"span": [0.5, 0.9], "audio_bytes": 7},
    ]


async def test_new_word_timings_get_features_recomputed_from_the_stored_audio(
    admin: CatalogAdministration, database: FakeDatabase
) -> None:
    script = await admin.create_item(ADMIN, ScriptInput("Title", "hello", [Word(0, "hello", 0.1, 0.4)]))
    await admin.upload_reference_audio(ADMIN, ReferenceKind.SCRIPT, script.id, b"wav:2.0")
    await admin.update_item(ADMIN, script.id, ScriptInput("Title", "hello", [Word(0, "hello", 0.2, 0.6)]))
    assert database.tables.items[script.id].words[0].reference_features == {
        "span": [0.2, 0.6],
        "audio_bytes": 7,
    }


async def test_an_item_of_the_other_kind_is_not_found(
    admin: CatalogAdministration, database: FakeDatabase, storage: InMemoryStorage
) -> None:
    script = await admin.create_item(ADMIN, ScriptInput("Title", "Some text"))
    queries = CatalogQueries(database, storage)
    assert (await queries.get_item(ReferenceKind.SCRIPT, script.id)).id == script.id
    with pytest.raises(NotFoundError) as raised:
        await queries.get_item(ReferenceKind.TOKEN, script.id)
    assert "token" in str(raised.value)
    with pytest.raises(NotFoundError):
        await admin.delete_item(ADMIN, ReferenceKind.TOKEN, script.id)
    assert script.id in database.tables.items


async def test_a_token_keeps_its_actor_and_its_words_get_no_reference_features(
    admin: CatalogAdministration, database: FakeDatabase
) -> None:
    actor = await admin.create_actor(ADMIN, ActorInput("Actor"))
    words = [Word(0, "hello", 0.1, 0.4)]
    token = await admin.create_item(ADMIN, MovieLineInput(actor.id, "Movie", "hello", 1999, words))
    await admin.upload_reference_audio(ADMIN, ReferenceKind.TOKEN, token.id, b"wav:2.0")
    stored = database.tables.items[token.id]
    assert stored.kind is ReferenceKind.TOKEN
    assert stored.detail == MovieLine(actor, "Movie", 1999)
    assert stored.words == words
    assert stored.feature_config_version is None


async def test_deleting_an_item_removes_its_reference_audio(
    admin: CatalogAdministration, database: FakeDatabase, storage: InMemoryStorage
) -> None:
    script = await admin.create_item(ADMIN, ScriptInput("Title", "Some text"))
    await admin.upload_reference_audio(ADMIN, ReferenceKind.SCRIPT, script.id, b"wav:2.0")
    await admin.delete_item(ADMIN, ReferenceKind.SCRIPT, script.id)
    assert database.tables.items == {}
    assert storage.objects == {}


async def test_reference_audio_without_word_timings_gets_them_by_forced_alignment(
    admin: CatalogAdministration, database: FakeDatabase, aligner: FakeAligner
) -> None:
    script = await admin.create_item(ADMIN, ScriptInput("Title", "Hello there, world"))
    await admin.upload_reference_audio(ADMIN, ReferenceKind.SCRIPT, script.id, b"wav:2.0")
    stored = database.tables.items[script.id]
    assert aligner.aligned == [b"wav:2.0"]
    assert stored.words_aligned
    assert [(w.index, w.text, w.start, w.end) for w in stored.words] == [
        (0, "Hello", 0.0, 0.25),
        (1, "there", 0.25, 0.5),
        (2, "world", 0.5, 0.75),
    ]
    assert [w.reference_features for w in stored.words] == [
        {"span": [0.0, 0.25], "audio_bytes": 7},
        {"span": [0.25, 0.5], "audio_bytes": 7},
        {"span": [0.5, 0.75], "audio_bytes": 7},
    ]


async def test_admin_word_timings_are_kept_as_given_and_never_aligned(
    admin: CatalogAdministration, database: FakeDatabase, aligner: FakeAligner
) -> None:
    actor = await admin.create_actor(ADMIN, ActorInput("Actor"))
    words = [Word(0, "hello", 0.1, 0.4), Word(1, "there", 0.5, 0.9)]
    token = await admin.create_item(ADMIN, MovieLineInput(actor.id, "Movie", "hello there", None, words))
    await admin.upload_reference_audio(ADMIN, ReferenceKind.TOKEN, token.id, b"wav:2.0")
    await admin.upload_reference_audio(ADMIN, ReferenceKind.TOKEN, token.id, b"wav:3.0")
    stored = database.tables.items[token.id]
    assert stored.words == words
    assert not stored.words_aligned
    assert aligner.aligned == []


async def test_aligned_timings_are_computed_again_for_new_audio_and_new_text(
    admin: CatalogAdministration, database: FakeDatabase, aligner: FakeAligner
) -> None:
    actor = await admin.create_actor(ADMIN, ActorInput("Actor"))
    token = await admin.create_item(ADMIN, MovieLineInput(actor.id, "Movie", "one two"))
    await admin.upload_reference_audio(ADMIN, ReferenceKind.TOKEN, token.id, b"wav:2.0")
    await admin.upload_reference_audio(ADMIN, ReferenceKind.TOKEN, token.id, b"wav:3.0")
    await admin.update_item(ADMIN, token.id, MovieLineInput(actor.id, "Movie", "one two three"))
    stored = database.tables.items[token.id]
    assert aligner.aligned == [b"wav:2.0", b"wav:3.0", b"wav:3.0"]
    assert [w.text for w in stored.words] == ["one", "two", "three"]
    assert stored.words_aligned
    given = [Word(0, "one", 0.1, 0.2), Word(1, "two", 0.3, 0.4)]
    await admin.update_item(ADMIN, token.id, MovieLineInput(actor.id, "Movie", "one two", None, given))
    stored = database.tables.items[token.id]
    assert stored.words == given
    assert not stored.words_aligned


async def test_an_item_without_reference_audio_has_nothing_to_align(
    admin: CatalogAdministration, database: FakeDatabase, aligner: FakeAligner
) -> None:
    script = await admin.create_item(ADMIN, ScriptInput("Title", "Some text"))
    await admin.update_item(ADMIN, script.id, ScriptInput("Title", "Other text"))
    stored = database.tables.items[script.id]
    assert stored.words == []
    assert not stored.words_aligned
    assert aligner.aligned == []
