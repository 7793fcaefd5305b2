"""Catalog use cases: public reads, admin-only writes, and reference audio uploads."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar
from uuid import UUID

from application.ports.audio import AudioInspector
from application.ports.catalog_cache import CatalogChanges, NoCatalogCache
from application.ports.persistence import (
    ActorFilter,
    MovieLineFilter,
    Page,
    PageRequest,
    ScriptFilter,
    UnitOfWork,
    UnitOfWorkFactory,
)
from application.ports.storage import ObjectStorage, PresignedUrl
from application.ports.system import Clock, IdGenerator
from application.ports.voice import ReferenceAligner, ReferenceFeatureExtractor
from domain.accounts import Principal
from domain.audio import AudioLimits
from domain.catalog import (
    Actor,
    MovieLine,
    PracticeItem,
    ReferenceAudio,
    ReferenceKind,
    ScriptDetail,
    Word,
    check_movie_year,
    check_word_timings,
    require_text,
)
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from domain.wording import check_words_cover_text

MAX_NAME_LENGTH = 200
MAX_BIO_LENGTH = 4000
MAX_LINE_LENGTH = 1000
MAX_SCRIPT_LENGTH = 20000
REFERENCE_URL_TTL_SECONDS = 900


@dataclass(frozen=True, slots=True)
class ActorInput:
    name: str
    bio: str = ""


@dataclass(frozen=True, slots=True)
class MovieLineInput:
    """A token's fields as an admin writes them."""

    actor_id: UUID
    movie_title: str
    text: str
    movie_year: int | None = None
    words: list[Word] = field(default_factory=list)

    kind: ClassVar[ReferenceKind] = MovieLine.kind
    max_text_length: ClassVar[int] = MAX_LINE_LENGTH

    async def detail(self, uow: UnitOfWork) -> MovieLine:
        check_movie_year(self.movie_year)
        movie_title = require_text("movie_title", self.movie_title, MAX_NAME_LENGTH)
        actor = await uow.actors.get(self.actor_id)
        if actor is None:
            raise InvalidInputError("actor_id", f"actor {self.actor_id} does not exist")
        return MovieLine(actor, movie_title, self.movie_year)


@dataclass(frozen=True, slots=True)
class ScriptInput:
    """A script's fields as an admin writes them."""

    title: str
    text: str
    words: list[Word] = field(default_factory=list)

    kind: ClassVar[ReferenceKind] = ScriptDetail.kind
    max_text_length: ClassVar[int] = MAX_SCRIPT_LENGTH

    async def detail(self, uow: UnitOfWork) -> ScriptDetail:
        return ScriptDetail(require_text("title", self.title, MAX_NAME_LENGTH))


ItemInput = MovieLineInput | ScriptInput


def _actor_fields(data: ActorInput) -> tuple[str, str]:
    name = require_text("name", data.name, MAX_NAME_LENGTH)
    bio = data.bio.strip()
    if len(bio) > MAX_BIO_LENGTH:
        raise InvalidInputError("bio", f"must be at most {MAX_BIO_LENGTH} characters long")
    return name, bio


class CatalogQueries:
    """Public reads of the catalog."""

    def __init__(self, uow: UnitOfWorkFactory, storage: ObjectStorage) -> None:
        self._uow = uow
        self._storage = storage

    async def list_actors(self, filters: ActorFilter, page: PageRequest) -> Page[Actor]:
        async with self._uow() as uow:
            return await uow.actors.list(filters, page)

    async def get_actor(self, actor_id: UUID) -> Actor:
        async with self._uow() as uow:
            actor = await uow.actors.get(actor_id)
        if actor is None:
            raise NotFoundError("actor", actor_id)
        return actor

    async def list_movie_lines(self, filters: MovieLineFilter, page: PageRequest) -> Page[PracticeItem]:
        async with self._uow() as uow:
            return await uow.items.list_movie_lines(filters, page)

    async def list_scripts(self, filters: ScriptFilter, page: PageRequest) -> Page[PracticeItem]:
        async with self._uow() as uow:
            return await uow.items.list_scripts(filters, page)

    async def get_item(self, kind: ReferenceKind, item_id: UUID) -> PracticeItem:
        """A movie line or script by id; an item of the other kind is not found."""
        async with self._uow() as uow:
            return await load_item(uow, kind, item_id)

    async def reference_audio_url(self, kind: ReferenceKind, item_id: UUID) -> PresignedUrl:
        """A short-lived URL of the reference recording, for players and analysis servers."""
        audio = (await self.get_item(kind, item_id)).reference_audio
        if audio is None:
            raise NotFoundError(f"reference audio of {kind.value}", item_id)
        return await self._storage.presigned_get_url(audio.key, REFERENCE_URL_TTL_SECONDS)


async def load_item(uow: UnitOfWork, kind: ReferenceKind, item_id: UUID) -> PracticeItem:
    """The item of this kind; a missing id and an item of the other kind are both not found."""
    item = await uow.items.get(item_id)
    if item is None or item.kind is not kind:
        raise NotFoundError(kind.value, item_id)
    return item


def check_words_of_text(text: str, words: Sequence[Word]) -> None:
    """Given words must be the text's words, in order (domain.wording's rule); none may be given."""
    if words:
        check_words_cover_text(text, [word.text for word in words])


class CatalogAdministration:
    """Admin-only writes. Every method checks the caller's role first, and tells ``changes`` after its
    commit, before it returns, so no cached read outlives the write it missed.

    Word timings an admin gives are kept as given. An item with reference audio and no given timings
    gets them by forced alignment of its text to the audio (``words_aligned``), computed again when the
    text or the audio is replaced.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        storage: ObjectStorage,
        inspector: AudioInspector,
        reference_limits: AudioLimits,
        clock: Clock,
        ids: IdGenerator,
        features: ReferenceFeatureExtractor,
        aligner: ReferenceAligner,
        changes: CatalogChanges | None = None,
    ) -> None:
        self._uow = uow
        self._changes = changes or NoCatalogCache()
        self._storage = storage
        self._inspector = inspector
        self._features = features
        self._aligner = aligner
        self._reference_limits = reference_limits
        self._clock = clock
        self._ids = ids

    async def create_actor(self, principal: Principal, data: ActorInput) -> Actor:
        principal.require_admin()
        name, bio = _actor_fields(data)
        actor = Actor(id=self._ids.new_id(), name=name, bio=bio, created_at=self._clock.now())
        async with self._uow() as uow:
            await uow.actors.add(actor)
            await uow.commit()
        await self._changes.catalog_changed()
        return actor

    async def update_actor(self, principal: Principal, actor_id: UUID, data: ActorInput) -> Actor:
        principal.require_admin()
        name, bio = _actor_fields(data)
        async with self._uow() as uow:
            actor = await uow.actors.get(actor_id)
            if actor is None:
                raise NotFoundError("actor", actor_id)
            actor.name, actor.bio = name, bio
            await uow.actors.save(actor)
            await uow.commit()
        await self._changes.catalog_changed()
        return actor

    async def delete_actor(self, principal: Principal, actor_id: UUID) -> None:
        principal.require_admin()
        async with self._uow() as uow:
            if await uow.actors.get(actor_id) is None:
                raise NotFoundError("actor", actor_id)
            if await uow.actors.has_movie_lines(actor_id):
                raise ConflictError("the actor still has tokens; delete or move them first")
            await uow.actors.delete(actor_id)
            await uow.commit()
        await self._changes.catalog_changed()

    async def create_item(self, principal: Principal, data: ItemInput) -> PracticeItem:
        """A new item; words, when given, must be exactly the text's words in order (422 otherwise)."""
        principal.require_admin()
        check_word_timings(data.words)
        text = require_text("text", data.text, data.max_text_length)
        check_words_of_text(text, data.words)
        async with self._uow() as uow:
            detail = await data.detail(uow)
            item = PracticeItem(self._ids.new_id(), detail, text, self._clock.now(), list(data.words))
            await uow.items.add(item)
            await uow.commit()
        await self._changes.catalog_changed()
        return item

    async def update_item(self, principal: Principal, item_id: UUID, data: ItemInput) -> PracticeItem:
        """Replace an item's fields; without given word timings, an item with reference audio gets them by
        forced alignment; the words get their reference features from the stored audio."""
        principal.require_admin()
        async with self._uow() as uow:
            item = await load_item(uow, data.kind, item_id)
            check_word_timings(data.words)
            item.text = require_text("text", data.text, data.max_text_length)
            check_words_of_text(item.text, data.words)
            item.detail = await data.detail(uow)
        item.words, item.words_aligned = list(data.words), False
        if item.reference_audio is not None and (not item.words or item.takes_word_features):
            await self._reference_words(item, await self._storage.get(item.reference_audio.key))
        async with self._uow() as uow:
            await load_item(uow, data.kind, item_id)
            await uow.items.save(item)
            await uow.commit()
        await self._changes.catalog_changed()
        return item

    async def _reference_words(self, item: PracticeItem, audio: bytes) -> None:
        """Words timed by forced alignment unless an admin gave them, then their reference features."""
        if not item.words or item.words_aligned:
            item.words = await asyncio.to_thread(self._aligner.align, audio, item.text)
            item.words_aligned = True
        if item.takes_word_features:
            await self._extract_features(item, audio)

    async def _extract_features(self, item: PracticeItem, audio: bytes) -> None:
        features = await asyncio.to_thread(self._features.word_features, audio, item.words)
        item.words = [
            replace(word, reference_features=feature)
            for word, feature in zip(item.words, features, strict=True)
        ]
        item.feature_config_version = self._features.version

    async def delete_item(self, principal: Principal, kind: ReferenceKind, item_id: UUID) -> None:
        principal.require_admin()
        async with self._uow() as uow:
            item = await load_item(uow, kind, item_id)
            await uow.items.delete(item_id)
            await uow.commit()
        await self._changes.catalog_changed()
        if item.reference_audio is not None:
            await self._storage.delete(item.reference_audio.key)

    async def upload_reference_audio(
        self, principal: Principal, kind: ReferenceKind, item_id: UUID, data: bytes
    ) -> ReferenceAudio:
        """Validate and store the reference recording, replacing any earlier one; word timings not given
        by an admin are computed by forced alignment of the text to it (see the class).

        The object is stored before the row points at it; if the commit fails the new object is
        removed again, and the replaced object is removed only after the commit succeeded.
        """
        principal.require_admin()
        inspected = await asyncio.to_thread(self._inspector.inspect, data, self._reference_limits)
        key = f"references/{kind.value}s/{item_id}/{self._ids.new_id()}.{inspected.format.extension}"
        audio = ReferenceAudio(
            key=key,
            content_type=inspected.format.content_type,
            duration_seconds=round(inspected.duration_seconds, 3),
        )
        async with self._uow() as uow:
            item = await load_item(uow, kind, item_id)
        await self._reference_words(item, data)
        replaced = item.reference_audio
        item.reference_audio = audio
        await self._storage.put(key, data, audio.content_type)
        try:
            async with self._uow() as uow:
                await uow.items.save(item)
                await uow.commit()
        except BaseException:
            await self._storage.delete(key)
            raise
        await self._changes.catalog_changed()
        if replaced is not None:
            await self._storage.delete(replaced.key)
        return audio
