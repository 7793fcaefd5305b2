"""The analysis server's HTTP app: ``POST /v1/analyses`` and ``GET /health`` (docs/analysis-protocol.md)."""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from uuid import UUID

import msgspec
import structlog
from litestar import Litestar, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.params import HeaderParameter

from adapters.reference_analysis.destinations import DestinationRefused
from application.reference_analysis.intake import NotAcceptingError, QueueFullError
from application.reference_analysis.orders import AnalysisOrder
from entrypoints.analysis_server.composition import AnalysisServer, build_analysis_server
from entrypoints.analysis_server.problems import EXCEPTION_HANDLERS, PROBLEM_DETAILS, problem
from entrypoints.analysis_server.schemas import AcceptedOut, HealthOut, ProblemOut, to_order
from entrypoints.analysis_server.settings import AnalysisServerSettings
from entrypoints.logging import configure_logging
from entrypoints.observability import start_tracing_if_on
from shared_kernel import tracing
from shared_kernel.analysis_protocol import ANALYSES_PATH, AnalysisRequestBody, decode_request

# A script's request carries its words (and possibly their reference features).
MAX_REQUEST_BYTES = 16 * 1024 * 1024
STOPPING_RETRY_AFTER_SECONDS = 5
SERVICE_NAME = "voice-practice-analysis"
logger = structlog.get_logger(__name__)

Server = NamedDependency[AnalysisServer]


def _problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(data_container=ProblemOut, media_type="application/problem+json")
        for status in statuses
    }


def _check_bearer(server: AnalysisServer, authorization: str | None) -> None:
    expected = server.settings.auth_token
    if expected is None and server.settings.allow_unauthenticated:
        return
    scheme, _, presented = (authorization or "").partition(" ")
    if (
        expected is None
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(presented.strip().encode(), expected.encode())
    ):
        raise problem(
            401, "unauthenticated", "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )


def _decode(body: bytes) -> AnalysisRequestBody:
    try:
        return decode_request(body)
    except msgspec.ValidationError as error:
        raise problem(422, "invalid-analysis-request", str(error)) from error
    except msgspec.DecodeError as error:
        raise problem(400, "malformed-json", "the body is not a JSON document") from error


async def _check_destinations(server: AnalysisServer, order: AnalysisOrder) -> None:
    """Refuse at once what the server would refuse to download from or post to (checked again then)."""
    for name, url in (
        ("recording.url", order.recording.url),
        ("reference.url", order.reference.url),
        ("callback_url", order.callback_url),
    ):
        try:
            await server.destinations.check(url)
        except DestinationRefused as error:
            raise problem(422, "destination-not-allowed", f"{name}: {error}") from error


def _check_idempotency_key(key: str | None, job_id: UUID) -> None:
    if key is None:
        return
    try:
        matches = UUID(key.strip()) == job_id
    except ValueError:
        matches = False
    if not matches:
        raise problem(422, "idempotency-key-mismatch", "Idempotency-Key must be the request's job_id")


@post(
    ANALYSES_PATH,
    status_code=202,
    request_max_body_size=MAX_REQUEST_BYTES,
    summary="Accept an analysis request",
    responses=_problem_responses(400, 401, 422, 429, 503),
)
async def accept_analysis(
    request: Request[Any, Any, Any],
    server: Server,
    authorization: Annotated[str | None, HeaderParameter(name="Authorization")] = None,
    idempotency_key: Annotated[
        str | None, HeaderParameter(name="Idempotency-Key", description="The job id.")
    ] = None,
) -> AcceptedOut:
    """Queue the job and answer at once; the outcome arrives later as signed webhooks to callback_url.

    The same job id again is answered 202 with status "duplicate" and changes nothing. A full queue
    answers 429 and a stopping server 503, both with Retry-After. A body that is not JSON is 400; one
    that breaks the protocol's schema or rules is 422, and so is one whose URLs name a host outside
    ANALYSIS_SERVER_ALLOWED_HOSTS or one at a private, loopback or link-local address not allowed.
    """
    _check_bearer(server, authorization)
    body = _decode(await request.body())
    _check_idempotency_key(idempotency_key, body.job_id)
    order = to_order(body, traceparent=tracing.current_traceparent())
    await _check_destinations(server, order)
    try:
        acceptance = server.intake.submit(order)
    except QueueFullError as error:
        raise problem(
            429, "queue-full", str(error), headers={"Retry-After": str(error.retry_after_seconds)}
        ) from error
    except NotAcceptingError as error:
        raise problem(
            503, "stopping", str(error), headers={"Retry-After": str(STOPPING_RETRY_AFTER_SECONDS)}
        ) from error
    logger.info("analysis request", job_id=str(order.job_id), status=acceptance.status, kind=order.kind)
    return AcceptedOut(acceptance.job_id, acceptance.status)


@get("/health", summary="Liveness and load")
async def health(server: Server) -> Response[HealthOut]:
    """200 while accepting work, with the jobs running and waiting; 503 while stopping."""
    intake = server.intake
    body = HealthOut(
        status="ok" if intake.accepting else "stopping",
        running=intake.active,
        waiting=intake.waiting,
        capacity=server.settings.concurrency + server.settings.queue_size,
        webhooks_pending=server.reporter.pending,
    )
    return Response(body, status_code=200 if intake.accepting else 503)


def create_app(
    settings: AnalysisServerSettings | None = None, server: AnalysisServer | None = None
) -> Litestar:
    """The app; it builds, starts and closes ``server`` (built from ``settings`` when not given)."""
    settings = settings or (server.settings if server else AnalysisServerSettings.from_env())
    configure_logging(settings.log_level, settings.log_format)
    tracing_middleware = start_tracing_if_on(settings.tracing, SERVICE_NAME)
    # httpx logs every request at INFO: each download and webhook try, which the adapters report better.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    built = server or build_analysis_server(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await built.start()
        logger.info("analysis server started", concurrency=settings.concurrency, queue=settings.queue_size)
        try:
            yield
        finally:
            await built.close()
            logger.info("analysis server stopped")

    return Litestar(
        route_handlers=[accept_analysis, health],
        dependencies={"server": Provide(lambda: built, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        plugins=[PROBLEM_DETAILS],
        middleware=tracing_middleware,
        openapi_config=OpenAPIConfig(title="Reference analysis server", version="1.0.0", path="/schema"),
        lifespan=[lifespan],
        # Set, not read from LITESTAR_DEBUG and LITESTAR_PDB (as the API's app does).
        debug=False,
        pdb_on_exception=False,
        logging_config=None,
    )


def app_from_env() -> Litestar:
    return create_app()
