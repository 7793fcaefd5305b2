"""Catalog reads and finished jobs: ETags, 304s and Cache-Control; catalog pages cached in Redis, dropped
by admin writes, and served without Redis when it is down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from entrypoints.bootstrap import Container, build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.support.api_client import TEST_BASE_URL, SignUp
from tests.support.recordings import tone

DEAD_REDIS_URL = "redis://127.0.0.1:1/0"


async def _actor(client: httpx.AsyncClient, admin: dict[str, str], name: str) -> dict[str, Any]:
    created = await client.post("/v1/actors", json={"name": name}, headers=admin)
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


async def test_a_catalog_page_has_a_strong_etag_and_answers_304_to_it(
    client: httpx.AsyncClient, reference_token: dict[str, Any]
) -> None:
    for path in ("/v1/tokens?limit=20", f"/v1/tokens/{reference_token['id']}", "/actors", "/scripts"):
        first = await client.get(path)
        etag = first.headers["etag"]
        assert first.status_code == 200
        assert etag.startswith('"')
        assert not etag.startswith("W/")
        assert first.headers["cache-control"] == "public, no-cache"

        again = await client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304, path
        assert again.content == b""
        assert again.headers["etag"] == etag

        other = await client.get(path, headers={"If-None-Match": '"something-else"'})
        assert other.status_code == 200
        assert other.content == first.content


async def test_a_write_changes_what_the_next_read_answers_and_its_etag(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    actor = await _actor(client, admin_headers, "Before")
    page = await client.get("/v1/actors")
    one = await client.get(f"/v1/actors/{actor['id']}")

    renamed = await client.put(f"/v1/actors/{actor['id']}", json={"name": "After"}, headers=admin_headers)
    assert renamed.status_code == 200

    page_after = await client.get("/v1/actors", headers={"If-None-Match": page.headers["etag"]})
    one_after = await client.get(f"/v1/actors/{actor['id']}", headers={"If-None-Match": one.headers["etag"]})
    assert page_after.status_code == 200
    assert [a["name"] for a in page_after.json()["items"]] == ["After"]
    assert one_after.json()["name"] == "After"
    assert one_after.headers["etag"] != one.headers["etag"]

    assert (await client.delete(f"/v1/actors/{actor['id']}", headers=admin_headers)).status_code == 204
    assert (await client.get(f"/v1/actors/{actor['id']}")).status_code == 404
    assert (await client.get("/v1/actors")).json()["items"] == []


async def test_reference_audio_changes_the_cached_token(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    actor = await _actor(client, admin_headers, "Voice")
    # Word timings given: a tone holds no speech to align the text to (that would be a 422).
    words = [
        {"index": 0, "text": "Hello", "start": 0.0, "end": 0.45},
        {"index": 1, "text": "there", "start": 0.5, "end": 0.95},
    ]
    body = {"actor_id": actor["id"], "movie_title": "Film", "text": "Hello there", "words": words}
    token = (await client.post("/v1/tokens", json=body, headers=admin_headers)).json()
    assert (await client.get(f"/v1/tokens/{token['id']}")).json()["reference_audio"] is None

    uploaded = await client.put(
        f"/v1/tokens/{token['id']}/reference-audio",
        files={"file": ("ref.wav", tone(1.0))},
        headers=admin_headers,
    )
    assert uploaded.status_code == 200

    assert (await client.get(f"/v1/tokens/{token['id']}")).json()["reference_audio"] is not None


async def test_the_page_is_cached_in_redis_as_bytes(
    client: httpx.AsyncClient, container: Container, admin_headers: dict[str, str]
) -> None:
    await _actor(client, admin_headers, "Cached")
    served = await client.get("/v1/actors?limit=5")

    cached = await container.catalog_pages.lookup("/v1/actors?limit=5")
    assert cached.page is not None
    assert cached.page.body == served.content
    assert cached.page.etag == served.headers["etag"]


@pytest.fixture
async def redis_down(settings: Settings) -> AsyncIterator[Container]:
    container = await build_container(replace(settings, redis_url=DEAD_REDIS_URL))
    yield container
    await container.close()


async def test_catalog_reads_and_writes_work_while_redis_is_down(
    redis_down: Container, admin_headers: dict[str, str]
) -> None:
    transport = httpx.ASGITransport(app=create_app(container=redis_down))
    async with httpx.AsyncClient(transport=transport, base_url=TEST_BASE_URL) as down:
        assert (await down.get("/v1/actors")).json()["items"] == []
        created = await down.post("/v1/actors", json={"name": "Offline"}, headers=admin_headers)
        assert created.status_code == 201
        listed = await down.get("/v1/actors")
        assert listed.status_code == 200
        assert [a["name"] for a in listed.json()["items"]] == ["Offline"]
        assert (
            await down.get("/v1/actors", headers={"If-None-Match": listed.headers["etag"]})
        ).status_code == 304


async def test_a_finished_job_is_cacheable_and_answers_304(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any]
) -> None:
    me = await sign_up()
    job = (
        await client.post(
            f"/v1/tokens/{reference_token['id']}/upload-audio",
            files={"file": ("a.wav", tone(1.0))},
            headers=me,
        )
    ).json()
    running = await client.get(f"/v1/jobs/{job['id']}", headers=me)
    assert running.headers["cache-control"] == "private, no-cache"
    cancelled = await client.post(f"/v1/jobs/{job['id']}/cancel", headers=me)
    assert cancelled.status_code == 200

    finished = await client.get(f"/v1/jobs/{job['id']}", headers=me)
    assert finished.json()["status"] == "cancelled"
    assert finished.headers["cache-control"] == "private, max-age=86400"
    assert finished.headers["etag"] != running.headers["etag"]
    again = await client.get(
        f"/v1/jobs/{job['id']}", headers={**me, "If-None-Match": finished.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""
    stale = await client.get(
        f"/v1/jobs/{job['id']}", headers={**me, "If-None-Match": running.headers["etag"]}
    )
    assert stale.status_code == 200


async def test_a_cached_deprecated_path_keeps_its_deprecation_headers(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await _actor(client, admin_headers, "Old path")
    first = await client.get("/actors")
    cached = await client.get("/actors")
    not_modified = await client.get("/actors", headers={"If-None-Match": first.headers["etag"]})

    for answer in (first, cached, not_modified):
        assert answer.headers["deprecation"]
        assert "/v1/actors" in answer.headers["link"]
    assert "deprecation" not in (await client.get("/v1/actors")).headers
    assert cached.content == first.content
