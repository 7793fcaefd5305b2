"""The Litestar application: routes, problem details, CORS, OpenAPI and the container's lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, OAuthFlow, OAuthFlows, SecurityScheme
from litestar.types import ControllerRouterHandler

from adapters.storage.local import LocalObjectStorage
from entrypoints.bootstrap import Container, build_container, build_local_storage
from entrypoints.http.admin_queue import build_admin_queue_router
from entrypoints.http.api_docs import SwaggerPage, build_docs_router, openapi_v1
from entrypoints.http.catalog_cache import catalog_cache_middleware
from entrypoints.http.controllers.auth import AuthController
from entrypoints.http.controllers.catalog import ActorController, ScriptController, TokenController
from entrypoints.http.controllers.client_config import ClientConfigController
from entrypoints.http.controllers.health import HealthController
from entrypoints.http.controllers.job_events import JobEventsController, SeedJobEventsController
from entrypoints.http.controllers.jobs import JobController
from entrypoints.http.controllers.live_feed import LiveFeedController, notifications
from entrypoints.http.controllers.multipart_uploads import MultipartUploadController
from entrypoints.http.controllers.my_page import MyPageController
from entrypoints.http.controllers.practice_items import practice_item_routes
from entrypoints.http.controllers.webhooks import AnalysisWebhookController
from entrypoints.http.dependencies import DEPENDENCIES
from entrypoints.http.metrics import METRICS, ApiMetrics, MetricsController
from entrypoints.http.problems import UNHANDLED_ERROR_HANDLERS, problem_details_plugin
from entrypoints.http.request_context import request_context_middleware
from entrypoints.http.routing import MountedOnce
from entrypoints.http.security import BearerAuthentication
from entrypoints.http.shutdown import ShutdownSignal
from entrypoints.http.storage_routes import build_local_storage_router
from entrypoints.http.text_guard import nul_text_guard_middleware
from entrypoints.http.versioning import API_V1, DEPRECATION_HEADERS, deprecation_middleware
from entrypoints.logging import configure_logging
from entrypoints.observability import start_tracing_if_on
from entrypoints.settings import Settings
from entrypoints.web.routes import build_web_router

API_DESCRIPTION = """\
Voice practice: users imitate lines spoken by actors ("tokens") or read scripts, upload a recording and
get it analysed against the reference audio. This document describes version 1, under `/v1`
(docs/api-versioning.md). Errors are RFC 9457 problem details; the `type` of each
problem is stable and documented in docs/problems.md.
"""

API_SERVICE_NAME = "voice-practice-api"


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Voice practice API",
        version="0.1.0",
        description=API_DESCRIPTION,
        openapi_router=build_docs_router(),
        render_plugins=[SwaggerPage()],
        components=Components(
            security_schemes={
                "BearerToken": SecurityScheme(
                    type="oauth2",
                    description=f"OAuth2 password flow: POST {API_V1}/auth/login, then send the bearer token.",
                    flows=OAuthFlows(password=OAuthFlow(token_url=f"{API_V1}/auth/login", scopes={})),
                ),
                "StreamTicket": SecurityScheme(
                    type="apiKey",
                    name="ticket",
                    security_scheme_in="query",
                    description=f"A job's stream ticket (POST {API_V1}/jobs/{{job_id}}/events/tickets), for "
                    "EventSource clients; it opens that job's event stream only. The live feed takes a "
                    f"feed ticket instead (POST {API_V1}/events/tickets).",
                ),
            }
        ),
        security=[{"BearerToken": []}],
    )


def public_api(settings: Settings, *, deprecated: bool = False) -> list[ControllerRouterHandler]:
    """The versioned public API's controllers, fresh for each mount; the deprecated unversioned mount
    also serves the seed's path of the progress stream."""
    return [
        AuthController,
        ActorController,
        TokenController,
        ScriptController,
        *practice_item_routes(settings),
        MyPageController,
        JobController,
        MultipartUploadController,
        SeedJobEventsController if deprecated else JobEventsController,
        ClientConfigController,
    ]


def api_routers(settings: Settings) -> list[Router]:
    """The public API under /v1 (with its OpenAPI document), and the same controllers at the
    unversioned paths, outside the document, answering with the deprecation headers."""
    return [
        # The live feed is new in v1: it has no unversioned twin.
        MountedOnce(
            path=API_V1, route_handlers=[*public_api(settings), LiveFeedController, notifications, openapi_v1]
        ),
        MountedOnce(
            path="/",
            route_handlers=public_api(settings, deprecated=True),
            include_in_schema=False,
            middleware=[deprecation_middleware],
        ),
    ]


def create_app(settings: Settings | None = None, container: Container | None = None) -> Litestar:
    """Build the app; with ``container`` given (tests) it is used as is and not closed by the app."""
    settings = settings or (container.settings if container else Settings.from_env())
    configure_logging(settings.log_level, settings.log_format)
    tracing_middleware = start_tracing_if_on(settings.tracing, API_SERVICE_NAME)
    local_storage: LocalObjectStorage | None = None
    if container is not None and isinstance(container.storage, LocalObjectStorage):
        local_storage = container.storage
    elif container is None and settings.storage_backend == "local":
        local_storage = build_local_storage(settings)
    metrics = ApiMetrics()
    shutdown = ShutdownSignal()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        shutdown.install()
        try:
            if container is not None:
                yield
                return
            built = await build_container(settings, storage=local_storage)
            app.state.container = built
            try:
                yield
            finally:
                await built.close()
        finally:
            shutdown.trigger()
            shutdown.uninstall()

    # Operations, protocol, web and dashboard routes: unversioned and outside the v1 document
    # (docs/api-versioning.md).
    unversioned: list[ControllerRouterHandler] = [
        HealthController,
        AnalysisWebhookController,
        MetricsController,
        build_admin_queue_router(),
        build_web_router(settings),
    ]
    if local_storage is not None:
        unversioned.append(build_local_storage_router(local_storage))
    routes: list[ControllerRouterHandler] = [
        *api_routers(settings),
        MountedOnce(path="/", route_handlers=unversioned, include_in_schema=False),
    ]
    origins = list(settings.cors_allowed_origins)
    # Long-lived responses (SSE) watch ``app.state.shutting_down`` to end with a retry hint.
    state: dict[str, object] = {"metrics": metrics, "shutting_down": shutdown.event}
    if container is not None:
        state["container"] = container
    app = Litestar(
        route_handlers=routes,
        dependencies={**DEPENDENCIES, **METRICS},
        exception_handlers=UNHANDLED_ERROR_HANDLERS,
        plugins=[problem_details_plugin()],
        middleware=[
            *tracing_middleware,
            request_context_middleware,
            nul_text_guard_middleware,
            # Before authentication: public catalog reads answer alike for everyone.
            catalog_cache_middleware,
            BearerAuthentication,
        ],
        cors_config=CORSConfig(
            allow_origins=origins,
            allow_credentials=settings.cors_allow_credentials and "*" not in origins,
            allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "Last-Event-ID",
                "X-Request-ID",
            ],
            expose_headers=["X-Request-ID", "Location", "Retry-After", *DEPRECATION_HEADERS],
        ),
        openapi_config=_openapi(),
        lifespan=[lifespan],
        state=State(state),
        # Set, not left to Litestar, which would read LITESTAR_DEBUG and LITESTAR_PDB from the environment:
        # stack traces in answers, or a debugger started on a failing request.
        debug=False,
        pdb_on_exception=False,
        # configure_logging above owns the root logger; Litestar's default config would replace its
        # JSON handler with a plain-text queue handler.
        logging_config=None,
    )
    # Around the whole handler, routing included: Litestar's middleware runs only for matched routes.
    app.asgi_handler = metrics.instrument(app.asgi_handler)
    return app


def app_from_env() -> Litestar:
    """uvicorn factory: ``uvicorn --factory entrypoints.http.app:app_from_env``."""
    return create_app(Settings.from_env())
