"""Local-store behaviour beyond the shared contract: signed URLs served by the API, files on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from litestar import Litestar

from adapters.storage.common import StorageUnavailableError
from adapters.storage.local import LocalObjectStorage, PresignedUrlRejectedError
from entrypoints.http.storage_routes import build_local_storage_router
from tests.integration.storage.conftest import (
    LOCAL_MAX_UPLOAD_BYTES,
    LOCAL_PUBLIC_BASE_URL,
    LOCAL_SIGNING_SECRET,
    FakeClock,
)

KEY = "recordings/0190a6b2-7c1d-7e55-9a4f-3c2b1a0d9e8f.wav"
AUDIO = b"RIFF" + bytes(range(256)) * 8


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    query.update(changes)
    return parts._replace(query=urlencode(query)).geturl()


def _without_query(url: str, name: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items() if key != name}
    return parts._replace(query=urlencode(query)).geturl()


# --- signed URLs ---------------------------------------------------------------------------------------


async def test_presigned_url_has_the_documented_shape(
    local_storage: LocalObjectStorage, clock: FakeClock
) -> None:
    presigned = await local_storage.presigned_get_url(KEY, expires_in_seconds=300)

    parts = urlsplit(presigned.url)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}" == LOCAL_PUBLIC_BASE_URL
    assert parts.path == f"/storage/{KEY}"
    assert query["expires"] == [str(int(clock.now) + 300)]
    assert query["method"] == ["GET"]
    assert len(query["sig"][0]) == 64
    assert int(presigned.expires_at.timestamp()) == int(clock.now) + 300


async def test_verify_accepts_its_own_signature_until_expiry(local_storage: LocalObjectStorage) -> None:
    signature = local_storage.sign("GET", KEY, 1_000)

    local_storage.verify("GET", KEY, 1_000, signature, now=999)
    with pytest.raises(PresignedUrlRejectedError, match="expired"):
        local_storage.verify("GET", KEY, 1_000, signature, now=1_000)


@pytest.mark.parametrize(
    ("method", "key", "expires", "content_type"),
    [
        ("PUT", KEY, 1_000, ""),
        ("GET", "recordings/other.wav", 1_000, ""),
        ("GET", KEY, 1_001, ""),
        ("GET", KEY, 1_000, "audio/wav"),
    ],
)
async def test_verify_rejects_a_signature_made_for_anything_else(
    local_storage: LocalObjectStorage, method: str, key: str, expires: int, content_type: str
) -> None:
    signature = local_storage.sign("GET", KEY, 1_000)

    with pytest.raises(PresignedUrlRejectedError, match="does not match"):
        local_storage.verify(method, key, expires, signature, now=0, content_type=content_type)


async def test_a_store_with_another_secret_rejects_the_signature(tmp_path: Path) -> None:
    ours = LocalObjectStorage(tmp_path, public_base_url="http://a", signing_secret=LOCAL_SIGNING_SECRET)
    theirs = LocalObjectStorage(
        tmp_path, public_base_url="http://a", signing_secret="another-secret-0123456789"
    )

    with pytest.raises(PresignedUrlRejectedError):
        theirs.verify("GET", KEY, 1_000, ours.sign("GET", KEY, 1_000), now=0)


def test_a_short_signing_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least"):
        LocalObjectStorage(tmp_path, public_base_url="http://a", signing_secret="short")


# --- the HTTP routes -----------------------------------------------------------------------------------


async def test_signed_get_streams_the_object_with_its_headers(
    local_storage: LocalObjectStorage, local_http: httpx.AsyncClient
) -> None:
    await local_storage.put(KEY, AUDIO, "audio/wav")
    presigned = await local_storage.presigned_get_url(KEY, expires_in_seconds=60)

    response = await local_http.get(presigned.url)

    assert response.status_code == 200
    assert response.content == AUDIO
    assert response.headers["content-type"] == "audio/wav"
    assert response.headers["content-length"] == str(len(AUDIO))


async def test_signed_put_stores_the_body(
    local_storage: LocalObjectStorage, local_http: httpx.AsyncClient
) -> None:
    presigned = await local_storage.presigned_put_url(KEY, "audio/ogg", expires_in_seconds=60)

    response = await local_http.put(presigned.url, content=AUDIO, headers=presigned.headers)

    assert response.status_code == 204
    assert await local_storage.get(KEY) == AUDIO


async def test_tampered_signature_is_forbidden(
    local_storage: LocalObjectStorage, local_http: httpx.AsyncClient
) -> None:
    await local_storage.put(KEY, AUDIO, "audio/wav")
    presigned = await local_storage.presigned_get_url(KEY, expires_in_seconds=60)
    signature = parse_qs(urlsplit(presigned.url).query)["sig"][0]
    tampered = ("0" if signature[0] != "0" else "1") + signature[1:]

    response = await local_http.get(_with_query(presigned.url, sig=tampered))

    assert response.status_code == 403
    assert "does not match" in response.json()["detail"]


async def test_extended_expiry_is_forbidden(
    local_storage: LocalObjectStorage, local_http: httpx.AsyncClient
) -> None:
    await local_storage.put(KEY, AUDIO, "audio/wav")
    presigned = await local_storage.presigned_get_url(KEY, expires_in_seconds=60)
    expires = int(parse_qs(urlsplit(presigned.url).query)["expires"][0])

    response = await local_http.get(_with_query(presigned.url, expires=str(expires + 3600)))

    assert response.status_code == 403


async def test_expired_url_is_forbidden(
    local_storage: LocalObjectStorage, local_http: httpx.AsyncClient, clock: FakeClock
) -> None:
    await local_storage.put(KEY, AUDIO, "audio/wav")
    presigned = await local_storage.presigned_get_url(KEY, expires_in_seconds=60)

    clock.advance(61)
    response = await local_http.get(presigned.url)

    assert response.status_code == 403
    assert "expired" in response.json()["detail"]


@pytest.mark.parametrize("missing", ["sig", "expires", "method"])
async def test_url_without_its_signature_parts_is_forbidden(
    local_storage: LocalObjectStorage, local_http: httpx.AsyncClient, missing: str
) -> None:
    await local_storage.put(KEY, AUDIO, "audio/wav")
    presigned = await local_storage.presigned_get_url(KEY, expires_in_seconds=60)

    response = await local_http.get(_without_query(presigned.url, missing))

    assert response.status_code == 403


async def test_get_url_cannot_be_used_to_upload(
    local_storage: LocalObjectStorage, local_http: httpx.AsyncClient
) -> None:
    presigned = await local_storage.presigned_get_url(KEY, expires_in_seconds=60)

    response = await local_http.put(presigned.url, content=AUDIO)

    assert response.status_code == 403
    assert await local_storage.stat(KEY) is None


async def test_put_with_another_content_type_than_signed_is_forbidden(
    local_storage: LocalObjectStorage, local_http: httpx.AsyncClient
) -> None:
    presigned = await local_storage.presigned_put_url(KEY, "audio/wav", expires_in_seconds=60)

    response = await local_http.put(presigned.url, content=AUDIO, headers={"Content-Type": "text/html"})

    assert response.status_code == 403
    assert await local_storage.stat(KEY) is None


async def test_signed_get_of_a_missing_object_is_not_found(
    local_storage: LocalObjectStorage, local_http: httpx.AsyncClient
) -> None:
    presigned = await local_storage.presigned_get_url(KEY, expires_in_seconds=60)

    response = await local_http.get(presigned.url)

    assert response.status_code == 404


@pytest.mark.parametrize(
    "raw_path",
    [
        "/storage/..%2F..%2Fetc%2Fpasswd",
        "/storage/%2E%2E/%2E%2E/etc/passwd",
        "/storage/recordings/%2E%2E/secret.wav",
        "/storage/recordings/a%00b.wav",
        "/storage/.hidden",
    ],
)
async def test_traversal_keys_are_bad_requests(local_http: httpx.AsyncClient, raw_path: str) -> None:
    url = httpx.URL(LOCAL_PUBLIC_BASE_URL).copy_with(
        raw_path=f"{raw_path}?expires=9999999999&method=GET&sig=00".encode()
    )

    response = await local_http.get(url)

    assert response.status_code == 400


async def test_oversize_upload_is_rejected_and_nothing_is_stored(
    local_storage: LocalObjectStorage, local_http: httpx.AsyncClient
) -> None:
    presigned = await local_storage.presigned_put_url(KEY, "audio/wav", expires_in_seconds=60)

    response = await local_http.put(
        presigned.url, content=b"\0" * (LOCAL_MAX_UPLOAD_BYTES + 1), headers=presigned.headers
    )

    assert response.status_code == 413
    assert await local_storage.stat(KEY) is None


async def test_oversize_chunked_upload_without_length_is_rejected(local_storage: LocalObjectStorage) -> None:
    """Mobile clients stream uploads; the limit must hold when no Content-Length announces the size."""
    presigned = await local_storage.presigned_put_url(KEY, "audio/wav", expires_in_seconds=60)
    app = Litestar(route_handlers=[build_local_storage_router(local_storage)])
    chunks = [b"\0" * 1024] * (LOCAL_MAX_UPLOAD_BYTES // 1024 + 1)

    status = await _asgi_put(app, presigned.url, content_type="audio/wav", chunks=chunks)

    assert status == 413
    assert await local_storage.stat(KEY) is None


async def _asgi_put(app: Litestar, url: str, *, content_type: str, chunks: list[bytes]) -> int:
    """Drive the app directly: the test client cannot send a body in several chunks."""
    parts = urlsplit(url)
    incoming: list[dict[str, Any]] = [
        {"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks
    ]
    incoming.append({"type": "http.request", "body": b"", "more_body": False})
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": parts.scheme,
        "path": parts.path,
        "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(),
        "root_path": "",
        "headers": [(b"host", parts.netloc.encode()), (b"content-type", content_type.encode())],
        "client": ("127.0.0.1", 50000),
        "server": (parts.hostname, 80),
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    start = next(message for message in sent if message["type"] == "http.response.start")
    status: int = start["status"]
    return status


async def test_upload_of_exactly_the_limit_is_accepted(
    local_storage: LocalObjectStorage, local_http: httpx.AsyncClient
) -> None:
    presigned = await local_storage.presigned_put_url(KEY, "audio/wav", expires_in_seconds=60)

    response = await local_http.put(
        presigned.url, content=b"\0" * LOCAL_MAX_UPLOAD_BYTES, headers=presigned.headers
    )

    assert response.status_code == 204


# --- files on disk -------------------------------------------------------------------------------------


async def test_objects_are_plain_files_under_the_root(
    local_storage: LocalObjectStorage, tmp_path: Path
) -> None:
    await local_storage.put(KEY, AUDIO, "audio/wav")

    assert (tmp_path / "store" / "objects" / KEY).read_bytes() == AUDIO


async def test_writes_leave_no_temporary_files(local_storage: LocalObjectStorage, tmp_path: Path) -> None:
    await local_storage.put(KEY, AUDIO, "audio/wav")
    await local_storage.put(KEY, b"again", "audio/wav")

    leftovers = [path.name for path in (tmp_path / "store").rglob("*") if path.name.startswith(".")]
    assert leftovers == []


async def test_an_upload_in_progress_is_not_listed(local_storage: LocalObjectStorage, tmp_path: Path) -> None:
    await local_storage.put(KEY, AUDIO, "audio/wav")
    (tmp_path / "store" / "objects" / "recordings" / ".partial.wav.0123.tmp").write_bytes(b"half")

    assert await local_storage.list_keys("recordings/") == [KEY]


async def test_a_directory_is_not_an_object(local_storage: LocalObjectStorage) -> None:
    await local_storage.put(KEY, AUDIO, "audio/wav")

    assert await local_storage.stat("recordings") is None


async def test_ping_fails_when_the_root_cannot_be_a_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"")
    storage = LocalObjectStorage(blocker, public_base_url="http://a", signing_secret=LOCAL_SIGNING_SECRET)

    with pytest.raises(StorageUnavailableError):
        await storage.ping()


# --- byte ranges: audio players seek and read the duration with them -----------------------------------


async def _ranged_get(storage: LocalObjectStorage, http: httpx.AsyncClient, header: str) -> httpx.Response:
    await storage.put(KEY, AUDIO, "audio/wav")
    presigned = await storage.presigned_get_url(KEY, expires_in_seconds=60)
    return await http.get(presigned.url, headers={"Range": header})


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [("bytes=0-99", 0, 100), ("bytes=100-", 100, len(AUDIO)), ("bytes=-10", len(AUDIO) - 10, len(AUDIO)),
     ("bytes=2000-999999", 2000, len(AUDIO)), ("bytes=-999999", 0, len(AUDIO)), ("bytes=7-7", 7, 8)],
)  # fmt: skip
async def test_a_signed_get_with_a_range_answers_206_with_that_slice(
    local_storage: LocalObjectStorage, local_http: httpx.AsyncClient, header: str, start: int, stop: int
) -> None:
    response = await _ranged_get(local_storage, local_http, header)

    assert response.status_code == 206
    assert response.content == AUDIO[start:stop]
    assert response.headers["content-range"] == f"bytes {start}-{stop - 1}/{len(AUDIO)}"
    assert response.headers["content-length"] == str(stop - start)
    assert response.headers["content-type"] == "audio/wav"


@pytest.mark.parametrize("header", ["items=0-5", "bytes=0-5,10-20", "bytes=9-3", "bytes=-", "bytes=abc", ""])
async def test_a_range_that_is_malformed_or_multiple_is_ignored(
    local_storage: LocalObjectStorage, local_http: httpx.AsyncClient, header: str
) -> None:
    response = await _ranged_get(local_storage, local_http, header)

    assert response.status_code == 200
    assert response.content == AUDIO
    assert response.headers["accept-ranges"] == "bytes"


@pytest.mark.parametrize("header", [f"bytes={len(AUDIO)}-", "bytes=999999-1000000", "bytes=-0"])
async def test_a_range_past_the_end_is_416_problem_with_the_size(
    local_storage: LocalObjectStorage, local_http: httpx.AsyncClient, header: str
) -> None:
    response = await _ranged_get(local_storage, local_http, header)

    assert response.status_code == 416
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["content-range"] == f"bytes */{len(AUDIO)}"
    assert response.json()["type"] == "/problems/range-not-satisfiable"
