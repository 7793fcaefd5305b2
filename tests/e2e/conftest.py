"""The HTTP app in-process over ASGI, wired by the real composition root to real Postgres and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from entrypoints.bootstrap import Container, build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings

TEST_BASE_URL = "http://testserver.local"


@pytest.fixture
def settings(clean_database: str, redis_url: str, tmp_path: Path) -> Settings:
    return replace(
        Settings(),
        environment="test",
        database_url=clean_database,
        redis_url=redis_url,
        local_storage_dir=tmp_path / "storage",
        public_base_url=TEST_BASE_URL,
        log_json=True,
        log_level="WARNING",
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


SignUp = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
def sign_up(client: httpx.AsyncClient) -> SignUp:
    """Sign up and log in a user; returns the Authorization header."""
    counter = iter(range(1_000_000))

    async def create(email: str | None = None, password: str = "correct horse battery") -> dict[str, str]:
        email = email or f"user{next(counter)}@example.com"
        response = await client.post(
            "/auth/signup", json={"email": email, "password": password, "display_name": "Test User"}
        )
        assert response.status_code == 201, response.text
        return await log_in(client, email, password)

    return create


async def log_in(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await client.post("/auth/login", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
async def admin_headers(client: httpx.AsyncClient, container: Container) -> dict[str, str]:
    from application.accounts import SignUpRequest

    await container.registration.create_or_promote_admin(
        SignUpRequest(email="admin@example.com", password="admin password 123", display_name="Admin")
    )
    return await log_in(client, "admin@example.com", "admin password 123")
