"""Serves the local object store's signed URLs: `GET` and `PUT /storage/{key}`."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, put
from litestar.exceptions import ClientException, NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Stream

from adapters.storage.common import InvalidObjectKeyError, validate_object_key
from adapters.storage.local import STORAGE_ROUTE_PREFIX, LocalObjectStorage, PresignedUrlRejectedError
from application.ports.storage import ObjectNotFoundError

_DEFAULT_CONTENT_TYPE = "application/octet-stream"


def build_local_storage_router(storage: LocalObjectStorage) -> Router:
    """Routes for the URLs `LocalObjectStorage` presigns; the signature is the only credential they take."""

    @get("/{key:path}", summary="Download an object through a presigned URL")
    async def download_object(request: Request[Any, Any, Any], key: FromPath[str]) -> Stream:
        object_key = _checked_key(key)
        _check_signature(storage, request, object_key, content_type="")
        try:
            stored, chunks = await storage.open_stream(object_key)
        except ObjectNotFoundError:
            raise NotFoundException(detail=f"no object is stored under {object_key!r}") from None
        return Stream(
            chunks,
            media_type=stored.content_type or _DEFAULT_CONTENT_TYPE,
            headers={"Content-Length": str(stored.size), "Cache-Control": "private, no-store"},
        )

    @put(
        "/{key:path}",
        summary="Upload an object through a presigned URL",
        status_code=204,
        request_max_body_size=storage.max_upload_bytes,
    )
    async def upload_object(request: Request[Any, Any, Any], key: FromPath[str]) -> None:
        object_key = _checked_key(key)
        content_type = request.headers.get("content-type", "").strip()
        _check_signature(storage, request, object_key, content_type=content_type)
        # Litestar answers 413 once the body (announced or streamed) passes request_max_body_size.
        body = await request.body()
        await storage.put(object_key, body, content_type or _DEFAULT_CONTENT_TYPE)

    return Router(
        path=STORAGE_ROUTE_PREFIX, route_handlers=[download_object, upload_object], tags=["storage"]
    )


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
    if not signature or not expires or not (expires.isascii() and expires.isdigit()):
        raise PermissionDeniedException(detail="the URL carries no valid signature (expires, method and sig)")
    if signed_method != request.method:
        raise PermissionDeniedException(
            detail=f"the URL was signed for {signed_method}, not {request.method}"
        )
    try:
        storage.verify(request.method, key, int(expires), signature, content_type=content_type)
    except PresignedUrlRejectedError as error:
        raise PermissionDeniedException(detail=str(error)) from None
