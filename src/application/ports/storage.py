"""Object storage port: where recordings and reference audio live."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


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
