"""Object storage on S3 or an S3-compatible server (MinIO, moto), through one long-lived aioboto3 client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Literal, Self

import aioboto3
from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from adapters.storage.common import StorageUnavailableError, validate_expiry, validate_object_key
from application.ports.storage import (
    InvalidPartError,
    MultipartUploadNotFoundError,
    ObjectNotFoundError,
    PresignedUrl,
    StoredObject,
)
from domain.analysis.multipart import ArrivedPart

_MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_MISSING_BUCKET_CODES = frozenset({"NoSuchBucket", "404", "NotFound"})
_MISSING_UPLOAD_CODES = frozenset({"NoSuchUpload", "404", "NotFound"})
_INVALID_PART_CODES = frozenset({"InvalidPart", "InvalidPartOrder", "EntityTooSmall"})


@dataclass(frozen=True, slots=True)
class S3StorageConfig:
    bucket: str
    region: str = "us-east-1"
    endpoint_url: str | None = None
    # Where clients reach the store when that differs from endpoint_url (e.g. MinIO behind a proxy);
    # SigV4 signs the host, so presigned URLs must be signed for this address.
    public_endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    # Bounded so that no request waits on a store that is down or stalled for more than a few seconds:
    # the caller answers 503 with Retry-After instead (a 30 MB upload takes well under this in-region).
    connect_timeout_seconds: float = 2.0
    read_timeout_seconds: float = 5.0
    max_attempts: int = 2
    operation_timeout_seconds: float = 8.0
    ping_timeout_seconds: float = 5.0
    list_page_size: int = 1000


class S3ObjectStorage:
    """Implements ObjectStorage; `start()` (or `async with`) before use, `close()` at shutdown."""

    def __init__(self, config: S3StorageConfig) -> None:
        self._config = config
        self._session = aioboto3.Session(
            aws_access_key_id=config.access_key_id,
            aws_secret_access_key=config.secret_access_key,
            region_name=config.region,
        )
        self._exit_stack: AsyncExitStack | None = None
        self._client: Any = None
        self._presign_client: Any = None

    async def start(self) -> None:
        if self._exit_stack is not None:
            return
        aio_config = AioConfig(
            signature_version="s3v4",
            s3={"addressing_style": self._config.addressing_style},
            connect_timeout=self._config.connect_timeout_seconds,
            read_timeout=self._config.read_timeout_seconds,
            retries={"max_attempts": self._config.max_attempts, "mode": "standard"},
            # Checksums only where S3 requires them: S3-compatible servers reject the newer
            # default trailers, and presigned PUTs must not demand a checksum header from clients.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        stack = AsyncExitStack()
        try:
            self._client = await stack.enter_async_context(
                self._session.client("s3", endpoint_url=self._config.endpoint_url, config=aio_config)
            )
            if self._config.public_endpoint_url is None:
                self._presign_client = self._client
            else:
                self._presign_client = await stack.enter_async_context(
                    self._session.client(
                        "s3", endpoint_url=self._config.public_endpoint_url, config=aio_config
                    )
                )
        except BaseException:
            await stack.aclose()
            raise
        self._exit_stack = stack

    async def close(self) -> None:
        stack, self._exit_stack = self._exit_stack, None
        self._client = self._presign_client = None
        if stack is not None:
            await stack.aclose()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def bucket(self) -> str:
        return self._config.bucket

    async def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist yet; for development and tests."""
        client = self._require_client()
        try:
            await client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as error:
            if _error_code(error) not in _MISSING_BUCKET_CODES:
                raise
        arguments: dict[str, Any] = {"Bucket": self.bucket}
        if self._config.region != "us-east-1":
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": self._config.region}
        try:
            await client.create_bucket(**arguments)
        except ClientError as error:
            if _error_code(error) != "BucketAlreadyOwnedByYou":
                raise

    async def put(self, key: str, data: bytes, content_type: str) -> StoredObject:
        validate_object_key(key)
        async with self._bounded("put"):
            await self._require_client().put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type
            )
        return StoredObject(key=key, size=len(data), content_type=content_type)

    async def get(self, key: str) -> bytes:
        validate_object_key(key)
        async with self._bounded("get"):
            try:
                response = await self._require_client().get_object(Bucket=self.bucket, Key=key)
            except ClientError as error:
                if _error_code(error) in _MISSING_OBJECT_CODES:
                    raise ObjectNotFoundError(key) from error
                raise
            async with response["Body"] as body:
                data: bytes = await body.read()
        return data

    async def stat(self, key: str) -> StoredObject | None:
        validate_object_key(key)
        async with self._bounded("stat"):
            try:
                response = await self._require_client().head_object(Bucket=self.bucket, Key=key)
            except ClientError as error:
                if _error_code(error) in _MISSING_OBJECT_CODES:
                    return None
                raise
        return StoredObject(key=key, size=response["ContentLength"], content_type=response.get("ContentType"))

    async def delete(self, key: str) -> None:
        validate_object_key(key)
        async with self._bounded("delete"):
            await self._require_client().delete_object(Bucket=self.bucket, Key=key)

    async def list_keys(self, prefix: str) -> list[str]:
        pages = self.key_pages(prefix, self._config.list_page_size)
        return sorted([key async for page in pages for key in page])

    @asynccontextmanager
    async def _bounded(self, operation: str) -> AsyncIterator[None]:
        """At most ``operation_timeout_seconds``; an unreachable, stalled or failing store raises
        StorageUnavailableError (botocore has retried within that time already)."""
        try:
            async with asyncio.timeout(self._config.operation_timeout_seconds):
                yield
        except (TimeoutError, BotoConnectionError, HTTPClientError) as error:
            raise StorageUnavailableError(f"S3 {operation} on {self.bucket!r} failed: {error!r}") from error
        except ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
                raise StorageUnavailableError(f"S3 {operation} on {self.bucket!r}: {error}") from error
            raise

    async def key_pages(self, prefix: str, page_size: int) -> AsyncIterator[list[str]]:
        paginator = self._require_client().get_paginator("list_objects_v2")
        pages = aiter(
            paginator.paginate(Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size})
        )
        while True:
            async with self._bounded("list"):  # a page at a time: a large bucket takes many
                page = await anext(pages, None)
            if page is None:
                return
            if keys := [item["Key"] for item in page.get("Contents", ())]:
                yield keys

    async def presigned_get_url(self, key: str, expires_in_seconds: int) -> PresignedUrl:
        return await self._presign("get_object", "GET", key, expires_in_seconds, content_type=None)

    async def presigned_put_url(
        self, key: str, content_type: str, expires_in_seconds: int, *, content_length: int | None = None
    ) -> PresignedUrl:
        return await self._presign(
            "put_object",
            "PUT",
            key,
            expires_in_seconds,
            content_type=content_type,
            content_length=content_length,
        )

    async def create_multipart_upload(self, key: str, content_type: str) -> str:
        validate_object_key(key)
        async with self._bounded("create multipart upload"):
            response = await self._require_client().create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=content_type
            )
        upload_id: str = response["UploadId"]
        return upload_id

    async def presigned_part_url(
        self, key: str, upload_id: str, part_number: int, content_length: int, expires_in_seconds: int
    ) -> PresignedUrl:
        return await self._presign(
            "upload_part",
            "PUT",
            key,
            expires_in_seconds,
            content_type=None,
            content_length=content_length,
            part={"UploadId": upload_id, "PartNumber": part_number},
        )

    async def list_parts(self, key: str, upload_id: str) -> list[ArrivedPart]:
        validate_object_key(key)
        parts: list[ArrivedPart] = []
        marker = 0
        while True:  # a page at a time (1,000 parts each), every page bounded like any other call
            async with self._bounded("list parts"), self._missing_upload(key):
                page = await self._require_client().list_parts(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker
                )
            parts += [
                ArrivedPart(item["PartNumber"], item["Size"], item["ETag"]) for item in page.get("Parts", ())
            ]
            if not page.get("IsTruncated"):
                return parts
            marker = int(page["NextPartNumberMarker"])

    async def complete_multipart_upload(self, key: str, upload_id: str, parts: list[ArrivedPart]) -> None:
        validate_object_key(key)
        layout = {"Parts": [{"PartNumber": part.number, "ETag": part.etag} for part in parts]}
        # Assembling 30 MB server-side can outlast one read timeout; S3 keeps the connection alive.
        async with self._bounded("complete multipart upload"), self._missing_upload(key):
            try:
                await self._require_client().complete_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload=layout
                )
            except ClientError as error:
                if _error_code(error) in _INVALID_PART_CODES:
                    raise InvalidPartError(str(error)) from error
                raise

    async def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        validate_object_key(key)
        with contextlib.suppress(MultipartUploadNotFoundError):
            async with self._bounded("abort multipart upload"), self._missing_upload(key):
                await self._require_client().abort_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id
                )

    @asynccontextmanager
    async def _missing_upload(self, key: str) -> AsyncIterator[None]:
        try:
            yield
        except ClientError as error:
            if _error_code(error) in _MISSING_UPLOAD_CODES:
                raise MultipartUploadNotFoundError(key) from error
            raise

    async def ping(self) -> None:
        client = self._require_client()
        try:
            async with asyncio.timeout(self._config.ping_timeout_seconds):
                await client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError, TimeoutError, OSError) as error:
            raise StorageUnavailableError(f"S3 bucket {self.bucket!r} is not reachable: {error}") from error

    async def _presign(
        self,
        operation: str,
        method: str,
        key: str,
        expires_in_seconds: int,
        content_type: str | None,
        content_length: int | None = None,
        part: dict[str, Any] | None = None,
    ) -> PresignedUrl:
        validate_object_key(key)
        validate_expiry(expires_in_seconds)
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key, **(part or {})}
        headers: dict[str, str] = {}
        if content_type is not None:
            # Signed into the URL: the uploader must send exactly this Content-Type.
            params["ContentType"] = content_type
            headers["Content-Type"] = content_type
        if content_length is not None:
            # Signed too (X-Amz-SignedHeaders names content-length): S3 refuses a body of another size.
            params["ContentLength"] = content_length
            headers["Content-Length"] = str(content_length)
        signed_at = datetime.now(UTC)
        url: str = await self._require_presign_client().generate_presigned_url(
            operation, Params=params, ExpiresIn=expires_in_seconds, HttpMethod=method
        )
        return PresignedUrl(
            url=url,
            method=method,
            expires_at=signed_at.replace(microsecond=0) + timedelta(seconds=expires_in_seconds),
            headers=headers,
        )

    def _require_client(self) -> Any:
        if self._client is None:
            raise RuntimeError("S3ObjectStorage is not started: await start() or use 'async with'")
        return self._client

    def _require_presign_client(self) -> Any:
        self._require_client()
        return self._presign_client


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
