"""The ObjectStorage contract, proved against both adapters: the local store and S3 (moto over HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.storage.common import MAX_PRESIGNED_URL_SECONDS, InvalidObjectKeyError
from application.ports.storage import ObjectNotFoundError, StoredObject
from tests.integration.storage.conftest import StoreUnderTest

KEY = "recordings/0190a6b2-7c1d-7e55-9a4f-3c2b1a0d9e8f.wav"
AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 4

BAD_KEYS = [
    "",
    "../secrets.txt",
    "recordings/../../etc/passwd",
    "/etc/passwd",
    "recordings//a.wav",
    "recordings/a.wav/",
    "recordings/./a.wav",
    ".hidden",
    "recordings/.a.wav.tmp",
    "nul\x00byte.wav",
    "line\nbreak.wav",
    "back\\slash.wav",
    "with space.wav",
    "ümlaut.wav",
    "a" * 513,
]


async def test_put_then_get_returns_the_same_bytes(store: StoreUnderTest) -> None:
    stored = await store.storage.put(KEY, AUDIO, "audio/wav")

    assert stored == StoredObject(key=KEY, size=len(AUDIO), content_type="audio/wav")
    assert await store.storage.get(KEY) == AUDIO


async def test_stat_reports_size_and_content_type(store: StoreUnderTest) -> None:
    await store.storage.put(KEY, AUDIO, "audio/wav")

    assert await store.storage.stat(KEY) == StoredObject(key=KEY, size=len(AUDIO), content_type="audio/wav")


async def test_put_replaces_an_existing_object(store: StoreUnderTest) -> None:
    await store.storage.put(KEY, AUDIO, "audio/wav")
    await store.storage.put(KEY, b"second", "audio/ogg")

    assert await store.storage.get(KEY) == b"second"
    assert await store.storage.stat(KEY) == StoredObject(key=KEY, size=6, content_type="audio/ogg")


async def test_get_of_a_missing_key_raises_object_not_found(store: StoreUnderTest) -> None:
    with pytest.raises(ObjectNotFoundError):
        await store.storage.get(KEY)


async def test_stat_of_a_missing_key_is_none(store: StoreUnderTest) -> None:
    assert await store.storage.stat(KEY) is None


async def test_delete_removes_the_object(store: StoreUnderTest) -> None:
    await store.storage.put(KEY, AUDIO, "audio/wav")

    await store.storage.delete(KEY)

    assert await store.storage.stat(KEY) is None
    assert await store.storage.list_keys("recordings/") == []


async def test_deleting_a_missing_key_is_not_an_error(store: StoreUnderTest) -> None:
    await store.storage.delete(KEY)


async def test_list_keys_returns_the_sorted_keys_under_a_prefix(store: StoreUnderTest) -> None:
    for key in ["recordings/b.wav", "recordings/a.wav", "recordings/nested/c.wav", "references/x.wav"]:
        await store.storage.put(key, b"x", "audio/wav")

    assert await store.storage.list_keys("recordings/") == [
        "recordings/a.wav",
        "recordings/b.wav",
        "recordings/nested/c.wav",
    ]
    assert await store.storage.list_keys("rec") == [
        "recordings/a.wav",
        "recordings/b.wav",
        "recordings/nested/c.wav",
    ]
    assert await store.storage.list_keys("recordings/a") == ["recordings/a.wav"]
    assert await store.storage.list_keys("") == [
        "recordings/a.wav",
        "recordings/b.wav",
        "recordings/nested/c.wav",
        "references/x.wav",
    ]
    assert await store.storage.list_keys("nothing/") == []


async def test_presigned_get_url_serves_the_object_over_http(store: StoreUnderTest) -> None:
    await store.storage.put(KEY, AUDIO, "audio/wav")
    presigned = await store.storage.presigned_get_url(KEY, expires_in_seconds=60)

    response = await store.http.get(presigned.url, headers=presigned.headers)

    assert presigned.method == "GET"
    assert response.status_code == 200
    assert response.content == AUDIO
    assert response.headers["content-type"] == "audio/wav"
    assert response.headers["content-length"] == str(len(AUDIO))


async def test_presigned_put_url_accepts_an_upload_with_the_returned_headers(store: StoreUnderTest) -> None:
    presigned = await store.storage.presigned_put_url(KEY, "audio/webm", expires_in_seconds=60)

    response = await store.http.put(presigned.url, content=AUDIO, headers=presigned.headers)

    assert presigned.method == "PUT"
    assert presigned.headers == {"Content-Type": "audio/webm"}
    assert response.is_success, response.text
    assert await store.storage.stat(KEY) == StoredObject(key=KEY, size=len(AUDIO), content_type="audio/webm")
    assert await store.storage.get(KEY) == AUDIO


async def test_presigned_urls_state_when_they_expire(store: StoreUnderTest) -> None:
    before = datetime.now(UTC).replace(microsecond=0)

    presigned = await store.storage.presigned_get_url(KEY, expires_in_seconds=600)

    assert presigned.expires_at.tzinfo is not None
    assert presigned.expires_at - before <= timedelta(seconds=600)
    assert presigned.expires_at - before >= timedelta(seconds=598)


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_unsafe_keys_are_rejected_before_any_io(store: StoreUnderTest, key: str) -> None:
    with pytest.raises(InvalidObjectKeyError):
        await store.storage.put(key, b"x", "audio/wav")
    with pytest.raises(InvalidObjectKeyError):
        await store.storage.get(key)
    with pytest.raises(InvalidObjectKeyError):
        await store.storage.presigned_get_url(key, expires_in_seconds=60)


@pytest.mark.parametrize("seconds", [0, -1, MAX_PRESIGNED_URL_SECONDS + 1])
async def test_presigned_url_lifetimes_outside_the_sigv4_range_are_rejected(
    store: StoreUnderTest, seconds: int
) -> None:
    with pytest.raises(ValueError, match="expires_in_seconds"):
        await store.storage.presigned_put_url(KEY, "audio/wav", expires_in_seconds=seconds)


async def test_ping_succeeds_when_the_store_is_reachable(store: StoreUnderTest) -> None:
    await store.storage.ping()


async def test_key_pages_yield_every_key_under_a_prefix_in_bounded_pages(store: StoreUnderTest) -> None:
    keys = [f"recordings/{index:02}.wav" for index in range(5)]
    for key in [*keys, "references/x.wav"]:
        await store.storage.put(key, b"x", "audio/wav")

    pages = [page async for page in store.storage.key_pages("recordings/", 2)]

    assert all(1 <= len(page) <= 2 for page in pages)
    assert sorted(key for page in pages for key in page) == keys
