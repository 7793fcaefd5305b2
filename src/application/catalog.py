"""Catalog use cases: public reads, admin-only writes, and reference audio uploads."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from uuid import UUID

from application.ports.audio import AudioInspector
from application.ports.persistence import (
    ActorFilter,
    Page,
    PageRequest,
    ScriptFilter,
    TokenFilter,
    TokenWithActor,
    UnitOfWorkFactory,
)
from application.ports.storage import ObjectStorage, PresignedUrl
from application.ports.system import Clock, IdGenerator
from application.ports.voice import ReferenceFeatureExtractor
from domain.accounts import Principal
from domain.audio import AudioLimits
from domain.catalog import (
    Actor,
    ReferenceAudio,
    ReferenceKind,
    Script,
    Token,
    Word,
    check_movie_year,
    check_word_timings,
    require_text,
)
from domain.errors import ConflictError, InvalidInputError, NotFoundError

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
class TokenInput:
    actor_id: UUID
    movie_title: str
    text: str
    movie_year: int | None = None
    words: list[Word] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ScriptInput:
    title: str
    text: str
    words: list[Word] = field(default_factory=list)


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

    async def list_tokens(self, filters: TokenFilter, page: PageRequest) -> Page[TokenWithActor]:
        async with self._uow() as uow:
            return await uow.tokens.list(filters, page)

    async def get_token(self, token_id: UUID) -> TokenWithActor:
        async with self._uow() as uow:
            found = await uow.tokens.get_with_actor(token_id)
        if found is None:
            raise NotFoundError("token", token_id)
        return found

    async def list_scripts(self, filters: ScriptFilter, page: PageRequest) -> Page[Script]:
        async with self._uow() as uow:
            return await uow.scripts.list(filters, page)

    async def get_script(self, script_id: UUID) -> Script:
        async with self._uow() as uow:
            script = await uow.scripts.get(script_id)
        if script is None:
            raise NotFoundError("script", script_id)
        return script

    async def reference_audio_url(self, kind: ReferenceKind, target_id: UUID) -> PresignedUrl:
        """A short-lived URL of the reference recording, for players and analysis servers."""
        if kind is ReferenceKind.TOKEN:
            audio = (await self.get_token(target_id)).token.reference_audio
        else:
            audio = (await self.get_script(target_id)).reference_audio
        if audio is None:
            raise NotFoundError(f"reference audio of {kind.value}", target_id)
        return await self._storage.presigned_get_url(audio.key, REFERENCE_URL_TTL_SECONDS)


class CatalogAdministration:
    """Admin-only writes. Every method checks the caller's role first."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        storage: ObjectStorage,
        inspector: AudioInspector,
        reference_limits: AudioLimits,
        clock: Clock,
        ids: IdGenerator,
        features: ReferenceFeatureExtractor,
    ) -> None:
        self._uow = uow
        self._storage = storage
        self._inspector = inspector
        self._features = features
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
        return actor

    async def delete_actor(self, principal: Principal, actor_id: UUID) -> None:
        principal.require_admin()
        async with self._uow() as uow:
            if await uow.actors.get(actor_id) is None:
                raise NotFoundError("actor", actor_id)
            if await uow.actors.has_tokens(actor_id):
                raise ConflictError("the actor still has tokens; delete or move them first")
            await uow.actors.delete(actor_id)
            await uow.commit()

    async def create_token(self, principal: Principal, data: TokenInput) -> TokenWithActor:
        principal.require_admin()
        token = Token(
            id=self._ids.new_id(),
            actor_id=data.actor_id,
            movie_title="",
            movie_year=None,
            text="",
            created_at=self._clock.now(),
        )
        _apply_token_input(token, data)
        async with self._uow() as uow:
            actor = await uow.actors.get(data.actor_id)
            if actor is None:
                raise InvalidInputError("actor_id", f"actor {data.actor_id} does not exist")
            await uow.tokens.add(token)
            await uow.commit()
        return TokenWithActor(token=token, actor=actor)

    async def update_token(self, principal: Principal, token_id: UUID, data: TokenInput) -> TokenWithActor:
        principal.require_admin()
        async with self._uow() as uow:
            token = await uow.tokens.get(token_id)
            if token is None:
                raise NotFoundError("token", token_id)
            actor = await uow.actors.get(data.actor_id)
            if actor is None:
                raise InvalidInputError("actor_id", f"actor {data.actor_id} does not exist")
            _apply_token_input(token, data)
            await uow.tokens.save(token)
            await uow.commit()
        return TokenWithActor(token=token, actor=actor)

    async def delete_token(self, principal: Principal, token_id: UUID) -> None:
        principal.require_admin()
        async with self._uow() as uow:
            token = await uow.tokens.get(token_id)
            if token is None:
                raise NotFoundError("token", token_id)
            await uow.tokens.delete(token_id)
            await uow.commit()
        if token.reference_audio is not None:
            await self._storage.delete(token.reference_audio.key)

    async def create_script(self, principal: Principal, data: ScriptInput) -> Script:
        principal.require_admin()
        script = Script(id=self._ids.new_id(), title="", text="", created_at=self._clock.now())
        _apply_script_input(script, data)
        async with self._uow() as uow:
            await uow.scripts.add(script)
            await uow.commit()
        return script

    async def update_script(self, principal: Principal, script_id: UUID, data: ScriptInput) -> Script:
        """Replace a script; new word timings get their reference features from the stored audio."""
        principal.require_admin()
        async with self._uow() as uow:
            script = await uow.scripts.get(script_id)
        if script is None:
            raise NotFoundError("script", script_id)
        _apply_script_input(script, data)
        if script.reference_audio is not None and script.words:
            audio = await self._storage.get(script.reference_audio.key)
            script.words = await self._with_features(audio, script.words)
            script.feature_config_version = self._features.version
        async with self._uow() as uow:
            if await uow.scripts.get(script_id) is None:
                raise NotFoundError("script", script_id)
            await uow.scripts.save(script)
            await uow.commit()
        return script

    async def _with_features(self, audio: bytes, words: list[Word]) -> list[Word]:
        features = await asyncio.to_thread(self._features.word_features, audio, words)
        return [
            replace(word, reference_features=feature) for word, feature in zip(words, features, strict=True)
        ]

    async def delete_script(self, principal: Principal, script_id: UUID) -> None:
        principal.require_admin()
        async with self._uow() as uow:
            script = await uow.scripts.get(script_id)
            if script is None:
                raise NotFoundError("script", script_id)
            await uow.scripts.delete(script_id)
            await uow.commit()
        if script.reference_audio is not None:
            await self._storage.delete(script.reference_audio.key)

    async def upload_reference_audio(
        self, principal: Principal, kind: ReferenceKind, target_id: UUID, data: bytes
    ) -> ReferenceAudio:
        """Validate and store the reference recording, replacing any earlier one.

        The object is stored before the row points at it; if the commit fails the new object is
        removed again, and the replaced object is removed only after the commit succeeded.
        """
        principal.require_admin()
        inspected = await asyncio.to_thread(self._inspector.inspect, data, self._reference_limits)
        key = f"references/{kind.value}s/{target_id}/{self._ids.new_id()}.{inspected.format.extension}"
        audio = ReferenceAudio(
            key=key,
            content_type=inspected.format.content_type,
            duration_seconds=round(inspected.duration_seconds, 3),
        )
        async with self._uow() as uow:
            target: Token | Script | None = (
                await uow.tokens.get(target_id)
                if kind is ReferenceKind.TOKEN
                else await uow.scripts.get(target_id)
            )
        if target is None:
            raise NotFoundError(kind.value, target_id)
        if isinstance(target, Script) and target.words:
            target.words = await self._with_features(data, target.words)
            target.feature_config_version = self._features.version
        replaced = target.reference_audio
        target.reference_audio = audio
        await self._storage.put(key, data, audio.content_type)
        try:
            async with self._uow() as uow:
                if isinstance(target, Token):
                    await uow.tokens.save(target)
                else:
                    await uow.scripts.save(target)
                await uow.commit()
        except BaseException:
            await self._storage.delete(key)
            raise
        if replaced is not None:
            await self._storage.delete(replaced.key)
        return audio


def _apply_token_input(token: Token, data: TokenInput) -> None:
    check_movie_year(data.movie_year)
    check_word_timings(data.words)
    token.actor_id = data.actor_id
    token.movie_title = require_text("movie_title", data.movie_title, MAX_NAME_LENGTH)
    token.movie_year = data.movie_year
    token.text = require_text("text", data.text, MAX_LINE_LENGTH)
    token.words = list(data.words)


def _apply_script_input(script: Script, data: ScriptInput) -> None:
    check_word_timings(data.words)
    script.title = require_text("title", data.title, MAX_NAME_LENGTH)
    script.text = require_text("text", data.text, MAX_SCRIPT_LENGTH)
    script.words = list(data.words)
