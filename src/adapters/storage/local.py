"""Object storage in a local directory, the embedded default; the API itself serves its signed URLs."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import stat as stat_module
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlencode

from adapters.storage.common import StorageUnavailableError, validate_expiry, validate_object_key
from application.ports.storage import (
    InvalidPartError,
    MultipartUploadNotFoundError,
    ObjectNotFoundError,
    PresignedUrl,
    StoredObject,
)
from domain.analysis.multipart import ArrivedPart

STORAGE_ROUTE_PREFIX = "/storage"
MIN_SIGNING_SECRET_BYTES = 16
DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
_CHUNK_SIZE = 64 * 1024
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_PART_PREFIX = "part-"


class PresignedUrlRejectedError(Exception):
    """The URL's signature does not match, or the URL has expired."""


class LocalObjectStorage:
    """Implements ObjectStorage with files under `root`: `objects/<key>` and `metadata/<key>.json`.

    Presigned URLs look like `{public_base_url}/storage/{key}?expires=<unix>&method=GET&sig=<hex>`, the
    signature an HMAC-SHA256 over method, key, expiry and (for PUT) the Content-Type the uploader must send.
    Multipart uploads keep their parts in `multipart/<upload id>/` until they are assembled or aborted;
    a part's URL adds `uploadId` and `partNumber`, both signed.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        public_base_url: str,
        signing_secret: str | bytes,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        secret = signing_secret.encode() if isinstance(signing_secret, str) else signing_secret
        if len(secret) < MIN_SIGNING_SECRET_BYTES:
            raise ValueError(f"the storage signing secret must be at least {MIN_SIGNING_SECRET_BYTES} bytes")
        if max_upload_bytes <= 0:
            raise ValueError("max_upload_bytes must be positive")
        self._root = Path(root)
        self._objects = self._root / "objects"
        self._metadata = self._root / "metadata"
        self._multipart = self._root / "multipart"
        self._public_base_url = public_base_url.rstrip("/")
        self._secret = secret
        self._clock = clock
        self.max_upload_bytes = max_upload_bytes

    async def put(self, key: str, data: bytes, content_type: str) -> StoredObject:
        path = self._object_path(key)
        await asyncio.to_thread(self._write, path, self._metadata_path(key), data, content_type)
        return StoredObject(key=key, size=len(data), content_type=content_type)

    async def get(self, key: str) -> bytes:
        path = self._object_path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as error:
            raise ObjectNotFoundError(key) from error

    async def stat(self, key: str) -> StoredObject | None:
        return await asyncio.to_thread(self._stat, key)

    async def delete(self, key: str) -> None:
        path = self._object_path(key)
        await asyncio.to_thread(self._delete, path, self._metadata_path(key))

    async def list_keys(self, prefix: str) -> list[str]:
        return await asyncio.to_thread(self._list_keys, prefix)

    async def key_pages(self, prefix: str, page_size: int) -> AsyncIterator[list[str]]:
        # Directory entries are read in one go (a development store); callers still get bounded pages.
        keys = await self.list_keys(prefix)
        for start in range(0, len(keys), page_size):
            yield keys[start : start + page_size]

    async def open_stream(
        self, key: str, byte_range: Callable[[int], tuple[int, int]] | None = None
    ) -> tuple[StoredObject, AsyncIterator[bytes]]:
        """Open the object for streaming; the file stays readable even if it is replaced meanwhile.

        ``byte_range`` maps the object's size to the ``[start, stop)`` slice to stream (whole object
        without it); it is called with the size of the file actually opened, and what it raises
        closes the file and propagates.
        """
        path = self._object_path(key)
        try:
            file, size = await asyncio.to_thread(_open_regular_file, path)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as error:
            raise ObjectNotFoundError(key) from error
        try:
            start, stop = byte_range(size) if byte_range else (0, size)
            content_type = await asyncio.to_thread(self._read_content_type, key)
        except BaseException:
            await asyncio.to_thread(file.close)
            raise
        return StoredObject(key=key, size=size, content_type=content_type), _read_chunks(file, start, stop)

    async def presigned_get_url(self, key: str, expires_in_seconds: int) -> PresignedUrl:
        return self._presign("GET", key, expires_in_seconds, content_type="")

    async def presigned_put_url(
        self, key: str, content_type: str, expires_in_seconds: int, *, content_length: int | None = None
    ) -> PresignedUrl:
        return self._presign(
            "PUT", key, expires_in_seconds, content_type=content_type, content_length=content_length
        )

    async def create_multipart_upload(self, key: str, content_type: str) -> str:
        validate_object_key(key)
        upload_id = secrets.token_hex(16)
        manifest = json.dumps({"key": key, "content_type": content_type}).encode()
        await asyncio.to_thread(
            _atomic_write, self._multipart / upload_id / "upload.json", manifest, durable=True
        )
        return upload_id

    async def presigned_part_url(
        self, key: str, upload_id: str, part_number: int, content_length: int, expires_in_seconds: int
    ) -> PresignedUrl:
        return self._presign(
            "PUT",
            key,
            expires_in_seconds,
            content_type="",
            content_length=content_length,
            part=(upload_id, part_number),
        )

    async def put_part(self, key: str, upload_id: str, part_number: int, data: bytes) -> None:
        """Store one part (replacing an earlier one of that number); the route of the part URLs calls this."""
        await asyncio.to_thread(self._put_part, key, upload_id, part_number, data)

    async def list_parts(self, key: str, upload_id: str) -> list[ArrivedPart]:
        return await asyncio.to_thread(self._list_parts, key, upload_id)

    async def complete_multipart_upload(self, key: str, upload_id: str, parts: list[ArrivedPart]) -> None:
        await asyncio.to_thread(self._complete, key, upload_id, parts)

    async def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        with contextlib.suppress(MultipartUploadNotFoundError):
            directory = await asyncio.to_thread(self._upload_directory, key, upload_id)
            await asyncio.to_thread(shutil.rmtree, directory, ignore_errors=True)

    async def ping(self) -> None:
        await asyncio.to_thread(self._check_writable)

    def sign(
        self, method: str, key: str, expires: int, content_type: str = "", content_length: int | None = None
    ) -> str:
        message = f"{method.upper()}\n{key}\n{expires}\n{content_type}".encode()
        if content_length is not None:
            message += f"\n{content_length}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def verify(
        self,
        method: str,
        key: str,
        expires: int,
        signature: str,
        now: float | None = None,
        *,
        content_type: str = "",
        content_length: int | None = None,
    ) -> None:
        """Raise PresignedUrlRejectedError unless the signature is ours and `expires` is still ahead."""
        expected = self.sign(method, key, expires, content_type, content_length)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise PresignedUrlRejectedError("the URL signature does not match")
        if (self._clock() if now is None else now) >= expires:
            raise PresignedUrlRejectedError("the URL has expired")

    def _presign(
        self,
        method: str,
        key: str,
        expires_in_seconds: int,
        content_type: str,
        content_length: int | None = None,
        part: tuple[str, int] | None = None,
    ) -> PresignedUrl:
        validate_object_key(key)
        validate_expiry(expires_in_seconds)
        expires = int(self._clock()) + expires_in_seconds
        parameters: dict[str, object] = {}
        if part is not None:
            parameters = {"uploadId": part[0], "partNumber": part[1]}
        signed = part_target(key, *part) if part is not None else key
        signature = self.sign(method, signed, expires, content_type, content_length)
        parameters |= {"expires": expires, "method": method, "sig": signature}
        headers = {"Content-Type": content_type} if method == "PUT" and part is None else {}
        if content_length is not None:
            parameters["length"] = content_length
            headers["Content-Length"] = str(content_length)
        return PresignedUrl(
            url=f"{self._public_base_url}{STORAGE_ROUTE_PREFIX}/{quote(key)}?{urlencode(parameters)}",
            method=method,
            expires_at=datetime.fromtimestamp(expires, UTC),
            headers=headers,
        )

    def _upload_directory(self, key: str, upload_id: str) -> Path:
        """The directory of a multipart upload of ``key``; MultipartUploadNotFoundError unless it exists."""
        validate_object_key(key)
        if _UPLOAD_ID.fullmatch(upload_id) is None:
            raise MultipartUploadNotFoundError(upload_id)
        directory = self._multipart / upload_id
        try:
            manifest = json.loads((directory / "upload.json").read_bytes())
        except (FileNotFoundError, NotADirectoryError, ValueError) as error:
            raise MultipartUploadNotFoundError(upload_id) from error
        if not isinstance(manifest, dict) or manifest.get("key") != key:
            raise MultipartUploadNotFoundError(upload_id)
        return directory

    def _put_part(self, key: str, upload_id: str, part_number: int, data: bytes) -> None:
        directory = self._upload_directory(key, upload_id)
        try:
            # No parents are made: a part arriving after the upload was completed or aborted has nowhere to go.
            _atomic_write(directory / f"{_PART_PREFIX}{part_number}", data, durable=True, make_parents=False)
        except FileNotFoundError as error:
            raise MultipartUploadNotFoundError(upload_id) from error

    def _list_parts(self, key: str, upload_id: str) -> list[ArrivedPart]:
        directory = self._upload_directory(key, upload_id)
        parts = []
        for path in directory.glob(f"{_PART_PREFIX}*"):
            number = path.name.removeprefix(_PART_PREFIX)
            if number.isdigit():
                with contextlib.suppress(FileNotFoundError):
                    data = path.read_bytes()
                    parts.append(ArrivedPart(int(number), len(data), _etag(data)))
        return sorted(parts, key=lambda part: part.number)

    def _complete(self, key: str, upload_id: str, parts: list[ArrivedPart]) -> None:
        directory = self._upload_directory(key, upload_id)
        target = self._object_path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
        try:
            with temporary.open("wb") as assembled:
                for part in parts:
                    try:
                        data = (directory / f"{_PART_PREFIX}{part.number}").read_bytes()
                    except FileNotFoundError as error:
                        raise InvalidPartError(f"part {part.number} is not stored") from error
                    if _etag(data) != part.etag:
                        raise InvalidPartError(f"part {part.number} changed since it was listed")
                    assembled.write(data)
                assembled.flush()
                os.fsync(assembled.fileno())
            content_type = json.loads((directory / "upload.json").read_bytes())["content_type"]
            _atomic_write(
                self._metadata_path(key), json.dumps({"content_type": content_type}).encode(), durable=False
            )
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        shutil.rmtree(directory, ignore_errors=True)

    def _object_path(self, key: str) -> Path:
        return self._objects / validate_object_key(key)

    def _metadata_path(self, key: str) -> Path:
        return self._metadata / f"{validate_object_key(key)}.json"

    def _write(self, path: Path, metadata_path: Path, data: bytes, content_type: str) -> None:
        _atomic_write(metadata_path, json.dumps({"content_type": content_type}).encode(), durable=False)
        _atomic_write(path, data, durable=True)

    def _stat(self, key: str) -> StoredObject | None:
        try:
            result = self._object_path(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not stat_module.S_ISREG(result.st_mode):
            return None
        return StoredObject(key=key, size=result.st_size, content_type=self._read_content_type(key))

    def _read_content_type(self, key: str) -> str | None:
        try:
            metadata = json.loads(self._metadata_path(key).read_bytes())
        except (FileNotFoundError, NotADirectoryError, ValueError):
            return None
        content_type = metadata.get("content_type") if isinstance(metadata, dict) else None
        return content_type if isinstance(content_type, str) else None

    @staticmethod
    def _delete(path: Path, metadata_path: Path) -> None:
        for file in (path, metadata_path):
            with contextlib.suppress(IsADirectoryError, NotADirectoryError):
                file.unlink(missing_ok=True)

    def _list_keys(self, prefix: str) -> list[str]:
        directory, _, _ = prefix.rpartition("/")
        start = self._objects
        if directory:
            try:
                start = self._objects / validate_object_key(directory)
            except ValueError:
                return []  # no valid key lies under a directory that is not itself a valid key
        keys: list[str] = []
        for current, subdirectories, files in os.walk(start):
            subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
            relative = Path(current).relative_to(self._objects).as_posix()
            for name in files:
                if name.startswith("."):
                    continue  # an upload still being written
                key = name if relative == "." else f"{relative}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def _check_writable(self) -> None:
        try:
            self._objects.mkdir(parents=True, exist_ok=True)
            self._metadata.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorageUnavailableError(f"storage directory {self._root} is not usable: {error}") from error
        if not (os.access(self._objects, os.W_OK) and os.access(self._metadata, os.W_OK)):
            raise StorageUnavailableError(f"storage directory {self._root} is not writable")


def part_target(key: str, upload_id: str, part_number: int) -> str:
    """What a part URL's signature covers in place of the key alone."""
    return f"{key}?uploadId={upload_id}&partNumber={part_number}"


def _etag(data: bytes) -> str:
    """S3's ETag of a part: the quoted MD5 of its bytes (a checksum, not a security measure)."""
    return f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'


def _atomic_write(path: Path, data: bytes, *, durable: bool, make_parents: bool = True) -> None:
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    # The leading dot keeps the temporary name out of the key space and out of listings.
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        with temporary.open("wb") as file:
            file.write(data)
            if durable:
                file.flush()
                os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _open_regular_file(path: Path) -> tuple[BinaryIO, int]:
    file = path.open("rb")
    result = os.fstat(file.fileno())
    if not stat_module.S_ISREG(result.st_mode):
        file.close()
        raise IsADirectoryError(str(path))
    return file, result.st_size


async def _read_chunks(file: BinaryIO, start: int, stop: int) -> AsyncIterator[bytes]:
    try:
        if start:
            await asyncio.to_thread(file.seek, start)
        remaining = stop - start
        while remaining > 0 and (chunk := await asyncio.to_thread(file.read, min(_CHUNK_SIZE, remaining))):
            remaining -= len(chunk)
            yield chunk
    finally:
        await asyncio.to_thread(file.close)
