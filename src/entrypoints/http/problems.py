"""RFC 9457 problem details for every error the API returns, with stable ``type`` URIs."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

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


class ProblemError(Exception):
    """Raised by handlers for an HTTP-level problem that has no domain error behind it."""

    def __init__(self, status: int, type_: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.type_, self.detail, self.headers = status, type_, detail, headers


def problem_error_handler(request: Request[Any, Any, Any], error: ProblemError) -> Response[dict[str, Any]]:
    return problem(
        error.status, error.type_, error.detail, headers=error.headers, instance=_instance(request)
    )


def problem(
    status: int,
    type_: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + type_,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _instance(request: Request[Any, Any, Any]) -> str:
    return request.url.path


def domain_error_handler(request: Request[Any, Any, Any], error: DomainError) -> Response[dict[str, Any]]:
    status = next((_DOMAIN_STATUS[cls] for cls in type(error).__mro__ if cls in _DOMAIN_STATUS), 400)
    type_ = error.code
    extra: dict[str, Any] = {"instance": _instance(request)}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(error, InvalidInputError):
        extra["errors"] = [{"field": error.field, "message": error.message}]
        return problem(status, type_, f"{error.field}: {error.message}", headers=headers, **extra)
    return problem(status, type_, error.message, headers=headers, **extra)


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


def validation_error_handler(
    request: Request[Any, Any, Any], error: ValidationException
) -> Response[dict[str, Any]]:
    errors = _validation_errors(error)
    detail = "; ".join(f"{item['field']}: {item['message']}" for item in errors) or error.detail
    return problem(400, "validation", detail, errors=errors, instance=_instance(request))


def http_error_handler(request: Request[Any, Any, Any], error: HTTPException) -> Response[dict[str, Any]]:
    status = error.status_code
    extra = error.extra if isinstance(error.extra, dict) else {}
    type_ = str(extra.pop("problem_type", _HTTP_TYPES.get(status, "http-error")))
    return problem(status, type_, error.detail, headers=error.headers, instance=_instance(request), **extra)


def internal_error_handler(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    logger.exception("unhandled error", path=request.url.path, exc_info=error)
    return problem(
        500, "internal", "an unexpected error occurred; it has been logged", instance=_instance(request)
    )


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    ProblemError: problem_error_handler,
    DomainError: domain_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    Exception: internal_error_handler,
}
