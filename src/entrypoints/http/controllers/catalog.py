"""Actors, tokens and scripts: public reads, admin-only writes."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter

from application.catalog import ActorInput, CatalogAdministration, CatalogQueries
from application.ports.persistence import ActorFilter, MovieLineFilter, PageRequest, ScriptFilter
from entrypoints.http.dependencies import Injected
from entrypoints.http.schemas import (
    ActorBody,
    ActorOut,
    ActorPage,
    ScriptBody,
    ScriptOut,
    ScriptPage,
    ScriptSummaryOut,
    TokenBody,
    TokenOut,
    TokenPage,
)
from entrypoints.http.security import Caller

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size (1-100).")]
Offset = Annotated[int, QueryParameter(ge=0, le=1_000_000, description="Items to skip.")]
MAX_SEARCH_LENGTH = 200
Search = Annotated[
    str | None, QueryParameter(max_length=MAX_SEARCH_LENGTH, description="Case-insensitive text search.")
]
Title = Annotated[str | None, QueryParameter(max_length=200, description="Title contains.")]
Queries = Injected[CatalogQueries]
Administration = Injected[CatalogAdministration]


def _page_request(limit: Limit = 20, offset: Offset = 0) -> PageRequest:
    return PageRequest(limit, offset)


PAGING = {"paging": Provide(_page_request, sync_to_thread=False)}
Paging = NamedDependency[PageRequest]


class ActorController(Controller):
    path = "/actors"
    tags = ["catalog"]

    @get("/", dependencies=PAGING)
    async def list_actors(self, catalog_queries: Queries, paging: Paging, q: Search = None) -> ActorPage:
        """List actors by name, optionally searching names and biographies."""
        page = await catalog_queries.list_actors(ActorFilter(search=q), paging)
        return ActorPage.of(page, ActorOut.of)

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


class TokenController(Controller):
    """Listing and adding movie lines (tokens in the API); the routes of one token are in practice_items."""

    path = "/tokens"
    tags = ["catalog"]

    @get("/", dependencies=PAGING)
    async def list_tokens(
        self,
        catalog_queries: Queries,
        paging: Paging,
        actor_id: Annotated[UUID | None, QueryParameter(description="Only this actor's tokens.")] = None,
        movie: Annotated[
            str | None, QueryParameter(max_length=200, description="Movie title contains.")
        ] = None,
        q: Search = None,
    ) -> TokenPage:
        """List tokens, newest first, each with its actor; filter by actor or movie, search the line."""
        filters = MovieLineFilter(actor_id=actor_id, movie_title=movie, search=q)
        return TokenPage.of(await catalog_queries.list_movie_lines(filters, paging), TokenOut.of)

    @post("/", status_code=201)
    async def create_token(
        self, catalog_admin: Administration, principal: Caller, data: JSONBody[TokenBody]
    ) -> TokenOut:
        """Add a token (admin only)."""
        return TokenOut.of(await catalog_admin.create_item(principal, data.to_input()))


class ScriptController(Controller):
    """Listing and adding scripts; the routes of one script are in practice_items."""

    path = "/scripts"
    tags = ["catalog"]

    @get("/", dependencies=PAGING)
    async def list_scripts(
        self, catalog_queries: Queries, paging: Paging, title: Title = None, q: Search = None
    ) -> ScriptPage:
        """List scripts by title (without their words); filter by title, search title and text."""
        page = await catalog_queries.list_scripts(ScriptFilter(title=title, search=q), paging)
        return ScriptPage.of(page, ScriptSummaryOut.of)

    @post("/", status_code=201)
    async def create_script(
        self, catalog_admin: Administration, principal: Caller, data: JSONBody[ScriptBody]
    ) -> ScriptOut:
        """Add a script with its timed words (admin only)."""
        return ScriptOut.of(await catalog_admin.create_item(principal, data.to_input()))
