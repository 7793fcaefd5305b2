"""Resumable uploads end to end, on the local store (the API serves the part URLs) and on S3 (moto's
server over real HTTP): parts in any order and retried, a dropped connection resumed by listing the
parts, hostile input, and an upload never completed."""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
import numpy as np
import pytest
from sqlalchemy import text

from adapters.storage.s3 import S3ObjectStorage, S3StorageConfig
from application.ports.storage import MultipartUploadNotFoundError
from entrypoints.bootstrap import Container, build_container
from entrypoints.settings import Settings
from tests.e2e.conftest import SignUp
from tests.e2e.test_storage_outage_api import Moto
from tests.support.api_client import TEST_BASE_URL

MIB = 1024 * 1024
PART = 5 * MIB


def wide_wav(size_bytes: int) -> bytes:
    """A valid WAV of about ``size_bytes``: a tone at 96 kHz in stereo, so 25 MB stays under a minute
    and a half (the script limit is two minutes)."""
    rate, channels = 96_000, 2
    frames = (size_bytes - 44) // (2 * channels)
    t = np.arange(frames) / rate
    mono = (0.3 * 32767 * np.sin(2 * np.pi * 220.0 * t)).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(np.repeat(mono, channels).tobytes())
    return buffer.getvalue()


@pytest.fixture(scope="module")
def recording() -> bytes:
    return wide_wav(25 * MIB)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> Iterator[Moto | None]:
    if request.param == "local":
        yield None
        return
    server = Moto()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def container(settings: Settings, store: Moto | None) -> AsyncIterator[Container]:
    """The real composition root on the local store, or on S3 served by the test's own moto server."""
    storage = None
    if store is not None:
        config = S3StorageConfig(
            bucket=f"recordings-{uuid4().hex}",  # moto's buckets outlive its server: one per test
            endpoint_url=store.endpoint,
            access_key_id="testing",
            secret_access_key="testing",
            addressing_style="path",
            read_timeout_seconds=30,
            operation_timeout_seconds=60,
        )
        storage = S3ObjectStorage(config)
        await storage.start()
        await storage.ensure_bucket()
    built = await build_container(settings, storage=storage)
    yield built
    await built.close()


@dataclass
class Parts:
    """Sends parts to wherever their URLs point: the app in-process (local store) or moto."""

    app: httpx.AsyncClient
    network: httpx.AsyncClient

    async def put(self, target: dict[str, Any], content: Any, **headers: str) -> httpx.Response:
        url: str = target["upload"]["url"]
        client = self.app if url.startswith(TEST_BASE_URL) else self.network
        return await client.put(
            url.removeprefix(TEST_BASE_URL),
            content=content,
            headers={**target["upload"]["headers"], **headers},
        )


@pytest.fixture
async def parts(client: httpx.AsyncClient) -> AsyncIterator[Parts]:
    async with httpx.AsyncClient(timeout=60) as network:
        yield Parts(client, network)


def chunk(recording: bytes, number: int) -> bytes:
    return recording[(number - 1) * PART : number * PART]


async def start(
    client: httpx.AsyncClient, me: dict[str, str], script_id: str, size: int, part_size: int = PART
) -> httpx.Response:
    return await client.post(
        f"/v1/scripts/{script_id}/multipart-uploads",
        json={"content_type": "audio/wav", "size_bytes": size, "part_size_bytes": part_size},
        headers=me,
    )


async def storage_upload_id(container: Container, job_id: str) -> str:
    async with container.engine.connect() as connection:
        upload_id = await connection.scalar(
            text("SELECT storage_upload_id FROM multipart_uploads WHERE job_id = :id"), {"id": job_id}
        )
    return str(upload_id)


async def stored_keys(container: Container) -> list[str]:
    return await container.storage.list_keys("recordings/")


async def test_a_25_mb_recording_in_parts_any_order_one_retried_is_completed_and_queued(
    client: httpx.AsyncClient, sign_up: SignUp, reference_script: dict[str, Any], parts: Parts,
    container: Container, recording: bytes,
) -> None:  # fmt: skip
    me = await sign_up()
    started = await start(client, me, reference_script["id"], len(recording))
    assert started.status_code == 201, started.text
    upload = started.json()
    assert (upload["part_count"], upload["job"]["status"]) == (5, "awaiting_upload")
    assert [target["size_bytes"] for target in upload["to_send"]] == [PART] * 4 + [len(recording) - 4 * PART]

    for target in reversed(upload["to_send"]):
        sent = await parts.put(target, chunk(recording, target["number"]))
        assert sent.status_code in (200, 204), sent.text
    retried = await parts.put(upload["to_send"][1], chunk(recording, 2))
    assert retried.status_code in (200, 204), retried.text

    completed = await client.post(upload["links"]["complete"], headers=me)
    assert completed.status_code == 200, completed.text
    assert completed.json()["completed_at"]
    submitted = await client.post(upload["links"]["submit"], headers=me)
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()
    assert (job["status"], job["recording"]["size"]) == ("queued", len(recording))
    assert await container.storage.get(f"recordings/{job['id']}.wav") == recording


async def test_a_connection_dropped_mid_part_is_resumed_by_listing_what_arrived(
    client: httpx.AsyncClient, sign_up: SignUp, reference_script: dict[str, Any], parts: Parts,
    recording: bytes,
) -> None:  # fmt: skip
    me = await sign_up()
    upload = (await start(client, me, reference_script["id"], len(recording))).json()
    targets = {target["number"]: target for target in upload["to_send"]}
    for number in (1, 3, 4, 5):
        assert (await parts.put(targets[number], chunk(recording, number))).status_code in (200, 204)

    async def half_then_drop() -> AsyncIterator[bytes]:
        yield chunk(recording, 2)[: PART // 2]
        raise ConnectionResetError("the phone lost its network")

    try:  # moto sees the connection close mid-body; the app in-process sees its body fail
        dropped: httpx.Response | None = await parts.put(
            targets[2], half_then_drop(), **{"Content-Length": str(PART)}
        )
    except (ConnectionResetError, httpx.TransportError):
        dropped = None
    assert dropped is None or dropped.status_code >= 500

    state = (await client.get(upload["links"]["self"], headers=me)).json()
    assert [part["number"] for part in state["arrived"]] == [1, 3, 4, 5]
    assert [target["number"] for target in state["to_send"]] == [2]
    assert (await parts.put(state["to_send"][0], chunk(recording, 2))).status_code in (200, 204)
    assert (await client.post(upload["links"]["complete"], headers=me)).status_code == 200
    assert (await client.post(upload["links"]["submit"], headers=me)).status_code == 202


async def test_a_part_larger_than_declared_is_never_assembled(
    client: httpx.AsyncClient, sign_up: SignUp, reference_script: dict[str, Any], parts: Parts,
    container: Container, store: Moto | None, recording: bytes,
) -> None:  # fmt: skip
    me = await sign_up()
    size = PART + MIB
    upload = (await start(client, me, reference_script["id"], size)).json()
    first, last = upload["to_send"]
    assert (await parts.put(first, recording[:PART])).status_code in (200, 204)
    too_large = recording[PART : PART + 2 * MIB]

    sent = await parts.put(last, too_large, **{"Content-Length": str(len(too_large))})

    if store is None:  # the local store checks the signed length before reading a byte
        assert (sent.status_code, sent.json()["type"]) == (403, "/problems/forbidden")
    completed = await client.post(upload["links"]["complete"], headers=me)
    assert (completed.status_code, completed.json()["type"]) == (409, "/problems/upload-incomplete")
    assert "2" in completed.json()["detail"]
    assert await stored_keys(container) == []


async def test_completing_with_parts_missing_is_409_naming_them_and_twice_is_409(
    client: httpx.AsyncClient, sign_up: SignUp, reference_script: dict[str, Any], parts: Parts,
    recording: bytes,
) -> None:  # fmt: skip
    me = await sign_up()
    upload = (await start(client, me, reference_script["id"], 3 * PART)).json()
    assert (await parts.put(upload["to_send"][1], chunk(recording, 2))).status_code in (200, 204)

    missing = await client.post(upload["links"]["complete"], headers=me)
    assert (missing.status_code, missing.json()["type"]) == (409, "/problems/upload-incomplete")
    assert "parts 1, 3 have not arrived" in missing.json()["detail"]

    for number in (1, 3):
        assert (await parts.put(upload["to_send"][number - 1], chunk(recording, number))).status_code in (
            200,
            204,
        )
    assert (await client.post(upload["links"]["complete"], headers=me)).status_code == 200
    twice = await client.post(upload["links"]["complete"], headers=me)
    assert (twice.status_code, twice.json()["type"]) == (409, "/problems/conflict")


async def test_another_users_upload_is_404_and_part_numbers_are_bounded(
    client: httpx.AsyncClient, sign_up: SignUp, reference_script: dict[str, Any]
) -> None:
    me, other = await sign_up(), await sign_up()
    upload = (await start(client, me, reference_script["id"], 2 * PART)).json()

    for method, url in [
        ("GET", upload["links"]["self"]),
        ("GET", f"{upload['links']['self']}/parts/1"),
        ("POST", upload["links"]["complete"]),
    ]:
        answer = await client.request(method, url, headers=other)
        assert (answer.status_code, answer.json()["type"]) == (404, "/problems/not-found"), url
    past_the_end = await client.get(f"{upload['links']['self']}/parts/3", headers=me)
    assert (past_the_end.status_code, past_the_end.json()["type"]) == (422, "/problems/invalid-input")
    for number in (0, 100_000):
        answer = await client.get(f"{upload['links']['self']}/parts/{number}", headers=me)
        assert answer.status_code == 400, answer.text
    fresh = await client.get(f"{upload['links']['self']}/parts/2", headers=me)
    assert (fresh.status_code, fresh.json()["size_bytes"]) == (200, PART)


@pytest.mark.parametrize(
    ("size", "part_size", "status"),
    [
        (31 * MIB, PART, 413),  # past the script limit
        (2 * PART, MIB, 400),  # parts smaller than S3 takes
        (2 * PART, 65 * MIB, 400),  # parts larger than the bound
    ],
)
async def test_declarations_out_of_bounds_are_refused_and_make_no_job(
    client: httpx.AsyncClient, sign_up: SignUp, reference_script: dict[str, Any], container: Container,
    size: int, part_size: int, status: int,
) -> None:  # fmt: skip
    refused = await start(client, await sign_up(), reference_script["id"], size, part_size)
    assert refused.status_code == status, refused.text
    async with container.engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM jobs")) == 0


async def test_an_upload_never_completed_expires_and_its_parts_are_removed(
    client: httpx.AsyncClient, sign_up: SignUp, reference_script: dict[str, Any], parts: Parts,
    container: Container, recording: bytes,
) -> None:  # fmt: skip
    me = await sign_up()
    upload = (await start(client, me, reference_script["id"], 2 * PART)).json()
    assert (await parts.put(upload["to_send"][0], chunk(recording, 1))).status_code in (200, 204)
    job_id = upload["job"]["id"]
    upload_id = await storage_upload_id(container, job_id)
    async with container.engine.begin() as connection:
        await connection.execute(
            text("UPDATE jobs SET deadline_at = now() - interval '1 second' WHERE id = :id"), {"id": job_id}
        )

    assert await container.housekeeping.fail_overdue_jobs() == 1
    assert await container.resumable_uploads.remove_finished() == 1

    job = (await client.get(f"/v1/jobs/{job_id}", headers=me)).json()
    assert (job["status"], job["failure"]["code"]) == ("failed", "upload_expired")
    with pytest.raises(MultipartUploadNotFoundError):
        await container.storage.list_parts(f"recordings/{job_id}.upload", upload_id)
    async with container.engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM multipart_uploads")) == 0
    assert (await client.get(upload["links"]["self"], headers=me)).status_code == 404


async def test_a_cancelled_upload_cannot_be_completed_and_its_parts_are_removed(
    client: httpx.AsyncClient, sign_up: SignUp, reference_script: dict[str, Any], parts: Parts,
    container: Container, recording: bytes,
) -> None:  # fmt: skip
    me = await sign_up()
    upload = (await start(client, me, reference_script["id"], PART)).json()
    assert (await parts.put(upload["to_send"][0], chunk(recording, 1))).status_code in (200, 204)
    job_id = upload["job"]["id"]

    upload_id = await storage_upload_id(container, job_id)

    assert (await client.post(f"/v1/jobs/{job_id}/cancel", headers=me)).status_code == 200
    refused = await client.post(upload["links"]["complete"], headers=me)
    assert await container.resumable_uploads.remove_finished() == 1

    assert (refused.status_code, refused.json()["type"]) == (409, "/problems/conflict")
    with pytest.raises(MultipartUploadNotFoundError):
        await container.storage.list_parts(f"recordings/{job_id}.upload", upload_id)
    assert await stored_keys(container) == []
