"""The analysis server's RFC 9457 problem details, through Litestar's ProblemDetailsPlugin.

Its own, not the API's: the two programs answer different clients and change for different reasons.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)

from domain.errors import InvalidInputError

PROBLEM_BASE = "/problems/"
# The problem types Litestar's own refusals had before this server had its own handling.
_HTTP_TYPES = {400: "bad-request", 404: "not-found", 405: "method-not-allowed", 413: "payload-too-large"}
logger = structlog.get_logger(__name__)


def problem(
    status: int, type_: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> ProblemDetailsException:
    """The exception a handler raises for an answer other than success."""
    return ProblemDetailsException(
        detail=detail,
        status_code=status,
        headers=headers,
        type_=PROBLEM_BASE + type_,
        title=HTTPStatus(status).phrase,
        extra=extra or None,
    )


def _from_http_error(error: HTTPException) -> ProblemDetailsException:
    slug = _HTTP_TYPES.get(error.status_code, "http-error")
    return problem(error.status_code, slug, error.detail, headers=error.headers)


def _from_invalid_input(error: InvalidInputError) -> ProblemDetailsException:
    return problem(
        422,
        error.code,
        f"{error.field}: {error.message}",
        errors=[{"field": error.field, "message": error.message}],
    )


def _with_instance(request: Request[Any, Any, Any], error: ProblemDetailsException) -> Response[Any]:
    error.instance = request.url.path
    return error.to_response(request)


def _internal(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    logger.exception("unhandled error", path=request.url.path, exc_info=error)
    return _with_instance(
        request, problem(500, "internal", "an unexpected error occurred; it has been logged")
    )


PROBLEM_DETAILS = ProblemDetailsPlugin(
    ProblemDetailsConfig(
        exception_handler=_with_instance,
        exception_to_problem_detail_map={
            HTTPException: _from_http_error,
            InvalidInputError: _from_invalid_input,
        },
    )
)
EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {Exception: _internal}
