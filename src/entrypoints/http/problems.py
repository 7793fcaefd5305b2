"""RFC 9457 problem details for every error the API returns, with stable ``type`` URIs."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)

from domain.audio import (
    AudioRejectedError,
    AudioTooLargeError,
    UnsupportedAudioFormatError,
)
from domain.errors import (
    AuthenticationError,
    ConflictError,
    DomainError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "/problems/"
_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")
logger = structlog.get_logger(__name__)

# The most specific class in an error's MRO decides its status; its ``code`` is the problem type.
_DOMAIN_STATUS: dict[type[DomainError], int] = {
    NotFoundError: 404,
    ConflictError: 409,
    AuthenticationError: 401,
    PermissionDeniedError: 403,
    InvalidInputError: 422,
    AudioTooLargeError: 413,
    UnsupportedAudioFormatError: 415,
    AudioRejectedError: 422,
}
_HTTP_TYPES = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "unprocessable",
    429: "too-many-requests",
    503: "service-unavailable",
}


class ProblemError(ProblemDetailsException):
    """Raised by handlers for an HTTP-level problem that has no domain error behind it."""

    def __init__(
        self,
        status: int,
        type_: str,
        detail: str,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            detail=detail,
            status_code=status,
            headers=headers,
            extra=extra,
            type_=PROBLEM_BASE + type_,
            title=HTTPStatus(status).phrase,
        )

    def to_response(self, request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        """The plugin's response, with the request's path as ``instance`` unless the problem names one."""
        if self.instance is None:
            self.instance = request.url.path
        return super().to_response(request)


def _from_domain_error(error: DomainError) -> ProblemError:
    status = next((_DOMAIN_STATUS[cls] for cls in type(error).__mro__ if cls in _DOMAIN_STATUS), 400)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(error, InvalidInputError):
        errors = [{"field": error.field, "message": error.message}]
        return ProblemError(
            status, error.code, f"{error.field}: {error.message}", headers=headers, extra={"errors": errors}
        )
    return ProblemError(status, error.code, error.message, headers=headers)


def _validation_errors(error: ValidationException) -> list[dict[str, Any]]:
    errors = []
    for item in error.extra if isinstance(error.extra, list) else []:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", ""))
        field = str(item.get("key") or "body")
        missing = _MISSING_FIELD.search(message)
        if missing and field in {"data", "body"}:
            field = missing.group(1)
        errors.append({"field": field, "message": message, "source": item.get("source")})
    return errors


def _from_validation_error(error: ValidationException) -> ProblemError:
    errors = _validation_errors(error)
    detail = "; ".join(f"{item['field']}: {item['message']}" for item in errors) or error.detail
    return ProblemError(400, "validation", detail, extra={"errors": errors})


def _from_http_error(error: HTTPException) -> ProblemError:
    status = error.status_code
    extra = dict(error.extra) if isinstance(error.extra, dict) else {}
    type_ = str(extra.pop("problem_type", _HTTP_TYPES.get(status, "http-error")))
    return ProblemError(status, type_, error.detail, headers=error.headers, extra=extra or None)


def problem_response(request: Request[Any, Any, Any], error: ProblemDetailsException) -> Response[Any]:
    return error.to_response(request)


def internal_error_handler(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    logger.exception("unhandled error", path=request.url.path, exc_info=error)
    return ProblemError(500, "internal", "an unexpected error occurred; it has been logged").to_response(
        request
    )


def problem_details_plugin() -> ProblemDetailsPlugin:
    """Litestar's RFC 9457 plugin with our exception map: every error answers ``application/problem+json``."""
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(
            exception_to_problem_detail_map={
                DomainError: _from_domain_error,
                ValidationException: _from_validation_error,
                HTTPException: _from_http_error,
            },
        )
    )


# Beside the plugin: anything not mapped above is a bug, answered opaquely and logged with its path.
UNHANDLED_ERROR_HANDLERS: dict[type[Exception] | int, Any] = {Exception: internal_error_handler}
