"""The HTTP app in-process over ASGI, wired by the real composition root to real Postgres and Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from entrypoints.bootstrap import Container, build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.support.api_client import TEST_BASE_URL, SignUp, log_in
from tests.support.recordings import spoken, tone


@pytest.fixture
def settings(clean_database: str, redis_url: str, tmp_path: Path) -> Settings:
    return replace(
        Settings(),
        environment="test",
        database_url=clean_database,
        redis_url=redis_url,
        local_storage_dir=tmp_path / "storage",
        public_base_url=TEST_BASE_URL,
        # Per test: the queue, and the catalog pages cached in Redis under its name, are the test's own
        # (tests empty the database between them without telling the cache).
        queue_name=f"test-{os.getpid()}-{uuid.uuid4().hex[:8]}",
        log_format="json",
        log_level="WARNING",
        # Every test logs in from the same address against the shared Redis; the limits have their own
        # tests (test_rate_limits_api.py), which turn them on with a key prefix of their own.
        upload_rate_limit=None,
        login_rate_limit_per_account=None,
        login_rate_limit_per_address=None,
        sign_up_rate_limit_per_address=None,
    )


@pytest.fixture
async def container(settings: Settings) -> AsyncIterator[Container]:
    built = await build_container(settings)
    yield built
    await built.close()


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the app, in the test's event loop (the container's connections live there)."""
    transport = httpx.ASGITransport(app=create_app(container=container))
    async with httpx.AsyncClient(transport=transport, base_url=TEST_BASE_URL) as test_client:
        yield test_client


@pytest.fixture
def sign_up(client: httpx.AsyncClient) -> SignUp:
    """Sign up and log in a user; returns the Authorization header."""
    counter = iter(range(1_000_000))

    async def create(email: str | None = None, password: str = "correct horse battery") -> dict[str, str]:
        email = email or f"user{next(counter)}@example.com"
        response = await client.post(
            "/v1/auth/signup", json={"email": email, "password": password, "display_name": "Test User"}
        )
        assert response.status_code == 201, response.text
        return await log_in(client, email, password)

    return create


@pytest.fixture
async def admin_headers(client: httpx.AsyncClient, container: Container) -> dict[str, str]:
    from application.accounts import SignUpRequest

    await container.registration.create_or_promote_admin(
        SignUpRequest(email="admin@example.com", password="admin password 123", display_name="Admin")
    )
    return await log_in(client, "admin@example.com", "admin password 123")


@pytest.fixture
async def reference_token(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> dict[str, Any]:
    """A token whose reference audio is uploaded, ready to be practised. Its word timings are given (a
    tone holds no speech to align the text to)."""
    actor = (await client.post("/v1/actors", json={"name": "Ref Actor"}, headers=admin_headers)).json()
    words = [
        {"index": 0, "text": "Hello", "start": 0.0, "end": 0.45},
        {"index": 1, "text": "there", "start": 0.5, "end": 0.95},
    ]
    body = {"actor_id": actor["id"], "movie_title": "Ref Movie", "text": "Hello there", "words": words}
    token = (await client.post("/v1/tokens", json=body, headers=admin_headers)).json()
    uploaded = await client.put(
        f"/v1/tokens/{token['id']}/reference-audio",
        files={"file": ("ref.wav", tone(1.0))},
        headers=admin_headers,
    )
    assert uploaded.status_code == 200, uploaded.text
    return token


@pytest.fixture
async def reference_script(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> dict[str, Any]:
    """A script whose spoken reference audio is uploaded, so its words carry reference features."""
    audio, words = spoken("hello world")
    body = {"title": "Ref", "text": "hello world", "words": words}
    script = (await client.post("/v1/scripts", json=body, headers=admin_headers)).json()
    uploaded = await client.put(
        f"/v1/scripts/{script['id']}/reference-audio",
        files={"file": ("ref.wav", audio)},
        headers=admin_headers,
    )
    assert uploaded.status_code == 200, uploaded.text
    return script
