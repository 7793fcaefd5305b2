"""The multipart part of the storage contract, against both adapters: the local store (its part URLs
served by the API's storage routes) and S3 (moto over HTTP)."""

from __future__ import annotations

from typing import cast

import httpx
import pytest

from application.ports.storage import (
    InvalidPartError,
    MultipartStorage,
    MultipartUploadNotFoundError,
    StoredObject,
)
from tests.integration.storage.conftest import StoreUnderTest

KEY = "recordings/0190a6b2-7c1d-7e55-9a4f-3c2b1a0d9e8f.upload"
PART = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 16


def multipart(store: StoreUnderTest) -> MultipartStorage:
    return cast(MultipartStorage, store.storage)


async def put_part(store: StoreUnderTest, upload_id: str, data: bytes, number: int = 1) -> httpx.Response:
    presigned = await multipart(store).presigned_part_url(KEY, upload_id, number, len(data), 60)
    return await store.http.put(presigned.url, content=data, headers=presigned.headers)


async def test_a_part_put_through_its_url_is_listed_and_assembled_into_the_object(
    store: StoreUnderTest,
) -> None:
    storage = multipart(store)
    upload_id = await storage.create_multipart_upload(KEY, "audio/wav")

    assert (await put_part(store, upload_id, PART)).is_success
    listed = await storage.list_parts(KEY, upload_id)
    assert [(part.number, part.size) for part in listed] == [(1, len(PART))]
    await storage.complete_multipart_upload(KEY, upload_id, listed)

    assert await storage.get(KEY) == PART
    assert await storage.stat(KEY) == StoredObject(KEY, len(PART), "audio/wav")
    with pytest.raises(MultipartUploadNotFoundError):
        await storage.list_parts(KEY, upload_id)


async def test_a_part_put_again_replaces_the_earlier_one(store: StoreUnderTest) -> None:
    storage = multipart(store)
    upload_id = await storage.create_multipart_upload(KEY, "audio/wav")
    await put_part(store, upload_id, PART)
    retried = bytes(reversed(PART))

    assert (await put_part(store, upload_id, retried)).is_success
    listed = await storage.list_parts(KEY, upload_id)
    await storage.complete_multipart_upload(KEY, upload_id, listed)

    assert len(listed) == 1
    assert await storage.get(KEY) == retried


async def test_completing_with_a_part_changed_since_listing_is_invalid_part(store: StoreUnderTest) -> None:
    storage = multipart(store)
    upload_id = await storage.create_multipart_upload(KEY, "audio/wav")
    await put_part(store, upload_id, PART)
    stale = await storage.list_parts(KEY, upload_id)
    await put_part(store, upload_id, bytes(reversed(PART)))

    with pytest.raises(InvalidPartError):
        await storage.complete_multipart_upload(KEY, upload_id, stale)
    assert await storage.stat(KEY) is None


async def test_aborting_drops_the_upload_and_aborting_again_is_not_an_error(store: StoreUnderTest) -> None:
    storage = multipart(store)
    upload_id = await storage.create_multipart_upload(KEY, "audio/wav")
    await put_part(store, upload_id, PART)

    await storage.abort_multipart_upload(KEY, upload_id)
    await storage.abort_multipart_upload(KEY, upload_id)

    with pytest.raises(MultipartUploadNotFoundError):
        await storage.list_parts(KEY, upload_id)
    assert await storage.stat(KEY) is None


@pytest.mark.parametrize("upload_id", ["0" * 32, "../../objects", "nonsense"])
async def test_an_unknown_upload_is_not_found(store: StoreUnderTest, upload_id: str) -> None:
    with pytest.raises(MultipartUploadNotFoundError):
        await multipart(store).list_parts(KEY, upload_id)


@pytest.fixture
def local(request: pytest.FixtureRequest) -> StoreUnderTest:
    return StoreUnderTest(request.getfixturevalue("local_storage"), request.getfixturevalue("local_http"))


async def test_a_local_part_url_names_one_part_of_one_upload(local: StoreUnderTest) -> None:
    storage = multipart(local)
    upload_id = await storage.create_multipart_upload(KEY, "audio/wav")
    presigned = await storage.presigned_part_url(KEY, upload_id, 1, len(PART), 60)

    other_part = presigned.url.replace("partNumber=1", "partNumber=2")
    answer = await local.http.put(other_part, content=PART, headers=presigned.headers)

    assert answer.status_code == 403
    assert await storage.list_parts(KEY, upload_id) == []


async def test_a_local_part_arriving_after_the_upload_ended_is_404_and_stores_nothing(
    local: StoreUnderTest,
) -> None:
    storage = multipart(local)
    upload_id = await storage.create_multipart_upload(KEY, "audio/wav")
    await storage.abort_multipart_upload(KEY, upload_id)

    late = await put_part(local, upload_id, PART)

    assert late.status_code == 404
    with pytest.raises(MultipartUploadNotFoundError):
        await storage.list_parts(KEY, upload_id)
