"""Actors, tokens and scripts: public reads, admin-only writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from litestar import Controller, delete, get, post, put
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, JSONBody, QueryParameter
from litestar.response import Redirect

from application.catalog import ActorInput, CatalogAdministration, CatalogQueries, ScriptInput, TokenInput
from application.ports.persistence import ActorFilter, PageRequest, ScriptFilter, TokenFilter
from domain.catalog import ReferenceKind
from entrypoints.http.dependencies import Injected
from entrypoints.http.schemas import (
    ActorBody,
    ActorOut,
    ActorPage,
    ReferenceAudioOut,
    ScriptBody,
    ScriptOut,
    ScriptPage,
    TokenBody,
    TokenOut,
    TokenPage,
)
from entrypoints.http.security import Caller

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size (1-100).")]
Offset = Annotated[int, QueryParameter(ge=0, le=1_000_000, description="Items to skip.")]
Search = Annotated[str | None, QueryParameter(max_length=200, description="Case-insensitive text search.")]
Queries = Injected[CatalogQueries]
Administration = Injected[CatalogAdministration]
REFERENCE_UPLOAD_MAX_BODY = 64 * 1024 * 1024


@dataclass
class AudioForm:
    """Multipart form with the recording in the field ``file``."""

    file: UploadFile


AudioUpload = Annotated[AudioForm, Body(media_type=RequestEncodingType.MULTI_PART)]


async def _read_upload(form: AudioForm) -> bytes:
    return await form.file.read()


class ActorController(Controller):
    path = "/actors"
    tags = ["catalog"]

    @get("/")
    async def list_actors(
        self,
        catalog_queries: Queries,
        limit: Limit = 20,
        offset: Offset = 0,
        q: Search = None,
    ) -> ActorPage:
        """List actors by name, optionally searching names and biographies."""
        page = await catalog_queries.list_actors(ActorFilter(search=q), PageRequest(limit, offset))
        return ActorPage.of(page)

    @get("/{actor_id:uuid}")
    async def get_actor(self, catalog_queries: Queries, actor_id: FromPath[UUID]) -> ActorOut:
        """One actor."""
        return ActorOut.of(await catalog_queries.get_actor(actor_id))

    @post("/", status_code=201)
    async def create_actor(
        self,
        catalog_admin: Administration,
        principal: Caller,
        data: JSONBody[ActorBody],
    ) -> ActorOut:
        """Add an actor (admin only)."""
        return ActorOut.of(await catalog_admin.create_actor(principal, ActorInput(data.name, data.bio)))

    @put("/{actor_id:uuid}")
    async def update_actor(
        self,
        catalog_admin: Administration,
        principal: Caller,
        actor_id: FromPath[UUID],
        data: JSONBody[ActorBody],
    ) -> ActorOut:
        """Replace an actor's fields (admin only)."""
        actor = await catalog_admin.update_actor(principal, actor_id, ActorInput(data.name, data.bio))
        return ActorOut.of(actor)

    @delete("/{actor_id:uuid}", status_code=204)
    async def delete_actor(
        self,
        catalog_admin: Administration,
        principal: Caller,
        actor_id: FromPath[UUID],
    ) -> None:
        """Delete an actor without tokens (admin only; 409 while tokens remain)."""
        await catalog_admin.delete_actor(principal, actor_id)


def _token_input(data: JSONBody[TokenBody]) -> TokenInput:
    return TokenInput(
        actor_id=data.actor_id,
        movie_title=data.movie_title,
        text=data.text,
        movie_year=data.movie_year,
        words=[word.to_domain() for word in data.words],
    )


def _script_input(data: JSONBody[ScriptBody]) -> ScriptInput:
    return ScriptInput(title=data.title, text=data.text, words=[word.to_domain() for word in data.words])


class TokenController(Controller):
    path = "/tokens"
    tags = ["catalog"]

    @get("/")
    async def list_tokens(
        self,
        catalog_queries: Queries,
        limit: Limit = 20,
        offset: Offset = 0,
        actor_id: Annotated[UUID | None, QueryParameter(description="Only this actor's tokens.")] = None,
        movie: Annotated[
            str | None, QueryParameter(max_length=200, description="Movie title contains.")
        ] = None,
        q: Search = None,
    ) -> TokenPage:
        """List tokens, newest first, each with its actor; filter by actor or movie, search the line."""
        filters = TokenFilter(actor_id=actor_id, movie_title=movie, search=q)
        return TokenPage.of(await catalog_queries.list_tokens(filters, PageRequest(limit, offset)))

    @get("/{token_id:uuid}")
    async def get_token(self, catalog_queries: Queries, token_id: FromPath[UUID]) -> TokenOut:
        """One token with its actor and word timings."""
        return TokenOut.of(await catalog_queries.get_token(token_id))

    @get("/{token_id:uuid}/reference-audio", status_code=307)
    async def token_reference_audio(self, catalog_queries: Queries, token_id: FromPath[UUID]) -> Redirect:
        """Redirect to a short-lived URL of the actor's reference recording."""
        url = await catalog_queries.reference_audio_url(ReferenceKind.TOKEN, token_id)
        return Redirect(url.url, status_code=307)

    @post("/", status_code=201)
    async def create_token(
        self,
        catalog_admin: Administration,
        principal: Caller,
        data: JSONBody[TokenBody],
    ) -> TokenOut:
        """Add a token (admin only)."""
        return TokenOut.of(await catalog_admin.create_token(principal, _token_input(data)))

    @put("/{token_id:uuid}")
    async def update_token(
        self,
        catalog_admin: Administration,
        principal: Caller,
        token_id: FromPath[UUID],
        data: JSONBody[TokenBody],
    ) -> TokenOut:
        """Replace a token's fields and word timings (admin only)."""
        return TokenOut.of(await catalog_admin.update_token(principal, token_id, _token_input(data)))

    @delete("/{token_id:uuid}", status_code=204)
    async def delete_token(
        self,
        catalog_admin: Administration,
        principal: Caller,
        token_id: FromPath[UUID],
    ) -> None:
        """Delete a token and its reference audio (admin only)."""
        await catalog_admin.delete_token(principal, token_id)

    @put(
        "/{token_id:uuid}/reference-audio",
        request_max_body_size=REFERENCE_UPLOAD_MAX_BODY,
    )
    async def upload_token_reference(
        self,
        catalog_admin: Administration,
        principal: Caller,
        token_id: FromPath[UUID],
        data: AudioUpload,
    ) -> ReferenceAudioOut:
        """Upload the actor's reference recording (multipart field ``file``; admin only)."""
        audio = await catalog_admin.upload_reference_audio(
            principal, ReferenceKind.TOKEN, token_id, await _read_upload(data)
        )
        return ReferenceAudioOut(
            audio.content_type, audio.duration_seconds, f"/tokens/{token_id}/reference-audio"
        )


class ScriptController(Controller):
    path = "/scripts"
    tags = ["catalog"]

    @get("/")
    async def list_scripts(
        self,
        catalog_queries: Queries,
        limit: Limit = 20,
        offset: Offset = 0,
        title: Annotated[str | None, QueryParameter(max_length=200, description="Title contains.")] = None,
        q: Search = None,
    ) -> ScriptPage:
        """List scripts by title (without their words); filter by title, search title and text."""
        filters = ScriptFilter(title=title, search=q)
        return ScriptPage.of(await catalog_queries.list_scripts(filters, PageRequest(limit, offset)))

    @get("/{script_id:uuid}")
    async def get_script(self, catalog_queries: Queries, script_id: FromPath[UUID]) -> ScriptOut:
        """One script with its timed words and their reference features."""
        return ScriptOut.of(await catalog_queries.get_script(script_id))

    @get("/{script_id:uuid}/reference-audio", status_code=307)
    async def script_reference_audio(self, catalog_queries: Queries, script_id: FromPath[UUID]) -> Redirect:
        """Redirect to a short-lived URL of the script's reference recording."""
        url = await catalog_queries.reference_audio_url(ReferenceKind.SCRIPT, script_id)
        return Redirect(url.url, status_code=307)

    @post("/", status_code=201)
    async def create_script(
        self,
        catalog_admin: Administration,
        principal: Caller,
        data: JSONBody[ScriptBody],
    ) -> ScriptOut:
        """Add a script with its timed words (admin only)."""
        return ScriptOut.of(await catalog_admin.create_script(principal, _script_input(data)))

    @put("/{script_id:uuid}")
    async def update_script(
        self,
        catalog_admin: Administration,
        principal: Caller,
        script_id: FromPath[UUID],
        data: JSONBody[ScriptBody],
    ) -> ScriptOut:
        """Replace a script's fields and words (admin only)."""
        return ScriptOut.of(await catalog_admin.update_script(principal, script_id, _script_input(data)))

    @delete("/{script_id:uuid}", status_code=204)
    async def delete_script(
        self,
        catalog_admin: Administration,
        principal: Caller,
        script_id: FromPath[UUID],
    ) -> None:
        """Delete a script and its reference audio (admin only)."""
        await catalog_admin.delete_script(principal, script_id)

    @put(
        "/{script_id:uuid}/reference-audio",
        request_max_body_size=REFERENCE_UPLOAD_MAX_BODY,
    )
    async def upload_script_reference(
        self,
        catalog_admin: Administration,
        principal: Caller,
        script_id: FromPath[UUID],
        data: AudioUpload,
    ) -> ReferenceAudioOut:
        """Upload the script's reference recording (multipart field ``file``; admin only)."""
        audio = await catalog_admin.upload_reference_audio(
            principal, ReferenceKind.SCRIPT, script_id, await _read_upload(data)
        )
        return ReferenceAudioOut(
            audio.content_type, audio.duration_seconds, f"/scripts/{script_id}/reference-audio"
        )
