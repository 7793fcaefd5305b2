"""Object storage port: where recordings and reference audio live."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.analysis.multipart import ArrivedPart


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    size: int
    content_type: str | None


@dataclass(frozen=True, slots=True)
class PresignedUrl:
    url: str
    method: str
    expires_at: datetime
    headers: dict[str, str]


class ObjectNotFoundError(Exception):
    """The key names no stored object."""


class ObjectStorage(Protocol):
    """Stores blobs by key and hands out expiring URLs that other processes can use directly."""

    async def put(self, key: str, data: bytes, content_type: str) -> StoredObject: ...

    async def get(self, key: str) -> bytes:
        """Raise ObjectNotFoundError when the key is unknown."""
        ...

    async def stat(self, key: str) -> StoredObject | None: ...

    async def delete(self, key: str) -> None:
        """Delete the object; deleting a missing key is not an error."""
        ...

    async def list_keys(self, prefix: str) -> list[str]: ...

    def key_pages(self, prefix: str, page_size: int) -> AsyncIterator[list[str]]:
        """The keys under ``prefix``, at most ``page_size`` at a time, for stores too big to list at once."""
        ...

    async def presigned_get_url(self, key: str, expires_in_seconds: int) -> PresignedUrl: ...

    async def presigned_put_url(
        self, key: str, content_type: str, expires_in_seconds: int, *, content_length: int | None = None
    ) -> PresignedUrl:
        """A URL to PUT the object with. With ``content_length`` the length is signed too: the store
        refuses a body of any other size, so a client cannot store more than it declared."""
        ...

    async def ping(self) -> None:
        """Raise when the store cannot be reached."""
        ...


class MultipartUploadNotFoundError(Exception):
    """The store knows no such multipart upload (never created, aborted, or completed already)."""


class InvalidPartError(Exception):
    """A part named at completion is not the one the store holds (it changed since it was listed)."""


class MultipartStorage(ObjectStorage, Protocol):
    """An object store that also takes an object in numbered parts, uploaded through presigned URLs in
    any order and assembled into one object on completion (S3 multipart uploads)."""

    async def create_multipart_upload(self, key: str, content_type: str) -> str:
        """Start an upload of ``key``; returns the store's upload id."""
        ...

    async def presigned_part_url(
        self, key: str, upload_id: str, part_number: int, content_length: int, expires_in_seconds: int
    ) -> PresignedUrl:
        """A URL to PUT part ``part_number`` with, signed for exactly ``content_length`` bytes."""
        ...

    async def list_parts(self, key: str, upload_id: str) -> list[ArrivedPart]:
        """The parts that arrived, by number; MultipartUploadNotFoundError for an unknown upload."""
        ...

    async def complete_multipart_upload(self, key: str, upload_id: str, parts: list[ArrivedPart]) -> None:
        """Assemble ``parts`` (in order) into the object ``key``; the upload is gone afterwards."""
        ...

    async def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        """Drop the upload and its parts; aborting an unknown upload is not an error."""
        ...
