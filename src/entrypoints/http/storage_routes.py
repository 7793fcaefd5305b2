"""Serves the local object store's signed URLs: `GET` (with single byte ranges, so audio players can
seek and read the duration) and `PUT /storage/{key}`, which also takes the parts of a multipart upload
(`?uploadId=...&partNumber=...`)."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, Router, get, put
from litestar.exceptions import ClientException, NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Stream

from adapters.storage.common import InvalidObjectKeyError, validate_object_key
from adapters.storage.local import (
    STORAGE_ROUTE_PREFIX,
    LocalObjectStorage,
    PresignedUrlRejectedError,
    part_target,
)
from application.ports.storage import MultipartUploadNotFoundError, ObjectNotFoundError
from entrypoints.http.problems import ProblemError, problem_response
from entrypoints.http.routing import MountedOnce

_DEFAULT_CONTENT_TYPE = "application/octet-stream"
_BYTE_RANGE = re.compile(r"bytes=(\d{0,19})-(\d{0,19})")


class RangeNotSatisfiableError(ProblemError):
    def __init__(self, size: int) -> None:
        super().__init__(
            416,
            "range-not-satisfiable",
            f"the requested range lies outside the object's {size} bytes",
            headers={"Content-Range": f"bytes */{size}"},
        )


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The ``[start, stop)`` slice a ``Range`` header asks for, or None for the whole object.

    One range of bytes is served (``a-b``, ``a-``, ``-n``, RFC 9110 section 14.1.2); a header that is
    malformed, names another unit or asks for several ranges is ignored, as the RFC allows, and a range
    that starts past the end is RangeNotSatisfiableError.
    """
    match = _BYTE_RANGE.fullmatch(header.strip()) if header else None
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # the last n bytes
        suffix = int(last)
        if suffix == 0:
            raise RangeNotSatisfiableError(size)
        return max(size - suffix, 0), size
    start = int(first)
    stop = size if last == "" else min(int(last) + 1, size)
    if last != "" and int(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiableError(size)
    return start, stop


def build_local_storage_router(storage: LocalObjectStorage) -> Router:
    """Routes for the URLs `LocalObjectStorage` presigns; the signature is the only credential they take."""

    @get("/{key:path}", summary="Download an object through a presigned URL")
    async def download_object(request: Request[Any, Any, Any], key: FromPath[str]) -> Stream:
        object_key = _checked_key(key)
        _check_signature(storage, request, object_key, content_type="")
        requested = request.headers.get("range")
        served: tuple[int, int] | None = None

        def choose(size: int) -> tuple[int, int]:
            nonlocal served
            served = byte_range(requested, size)
            return served or (0, size)

        try:
            stored, chunks = await storage.open_stream(object_key, choose)
        except ObjectNotFoundError:
            raise NotFoundException(detail=f"no object is stored under {object_key!r}") from None
        headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, no-store"}
        status = 200
        start, stop = served or (0, stored.size)
        if served is not None:
            status = 206
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{stored.size}"
        headers["Content-Length"] = str(stop - start)
        return Stream(
            chunks,
            status_code=status,
            media_type=stored.content_type or _DEFAULT_CONTENT_TYPE,
            headers=headers,
        )

    @put(
        "/{key:path}",
        summary="Upload an object through a presigned URL",
        status_code=204,
        request_max_body_size=storage.max_upload_bytes,
    )
    async def upload_object(request: Request[Any, Any, Any], key: FromPath[str]) -> None:
        object_key = _checked_key(key)
        if "uploadId" in request.query_params or "partNumber" in request.query_params:
            await _upload_part(storage, request, object_key)
            return
        content_type = request.headers.get("content-type", "").strip()
        _check_signature(storage, request, object_key, content_type=content_type)
        # Litestar answers 413 once the body (announced or streamed) passes request_max_body_size.
        body = await request.body()
        await storage.put(object_key, body, content_type or _DEFAULT_CONTENT_TYPE)

    return MountedOnce(
        path=STORAGE_ROUTE_PREFIX,
        route_handlers=[download_object, upload_object],
        tags=["storage"],
        exception_handlers={ProblemError: problem_response},
    )


async def _upload_part(storage: LocalObjectStorage, request: Request[Any, Any, Any], key: str) -> None:
    """One part of a multipart upload: the signature covers the upload id and part number (and the
    length), not a Content-Type, which parts do not have."""
    upload_id, number = request.query_params.get("uploadId", ""), request.query_params.get("partNumber", "")
    if not (number.isascii() and number.isdigit() and len(number) <= 5):
        raise PermissionDeniedException(detail="the URL carries no valid part number")
    _check_signature(storage, request, part_target(key, upload_id, int(number)), content_type="")
    body = await request.body()
    try:
        await storage.put_part(key, upload_id, int(number), body)
    except MultipartUploadNotFoundError:
        raise NotFoundException(detail="the upload was completed or aborted, or never existed") from None


def _checked_key(raw_key: str) -> str:
    key = raw_key.removeprefix("/")
    try:
        return validate_object_key(key)
    except InvalidObjectKeyError as error:
        raise ClientException(detail=str(error)) from None


def _check_signature(
    storage: LocalObjectStorage, request: Request[Any, Any, Any], key: str, *, content_type: str
) -> None:
    query = request.query_params
    signature, expires, signed_method = query.get("sig"), query.get("expires"), query.get("method")
    # At most 12 digits (a Unix time until the year 33658): int() of thousands of digits raises.
    if not signature or not expires or not (expires.isascii() and expires.isdigit() and len(expires) <= 12):
        raise PermissionDeniedException(detail="the URL carries no valid signature (expires, method and sig)")
    if signed_method != request.method:
        raise PermissionDeniedException(
            detail=f"the URL was signed for {signed_method}, not {request.method}"
        )
    length = query.get("length")
    content_length: int | None = None
    if length is not None:
        if not (length.isascii() and length.isdigit() and len(length) <= 12):
            raise PermissionDeniedException(detail="the URL's signed length is malformed")
        content_length = int(length)
        # Checked from the header before a byte is read; the server refuses a body longer than it says.
        if request.headers.get("content-length") != length:
            raise PermissionDeniedException(
                detail=f"the URL was signed for a body of exactly {length} bytes (Content-Length)"
            )
    try:
        storage.verify(
            request.method,
            key,
            int(expires),
            signature,
            content_type=content_type,
            content_length=content_length,
        )
    except PresignedUrlRejectedError as error:
        raise PermissionDeniedException(detail=str(error)) from None
