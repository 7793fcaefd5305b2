"""Health, readiness, OpenAPI and CORS."""

from __future__ import annotations

from dataclasses import replace

import httpx

from entrypoints.bootstrap import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings


async def test_health_and_ready_when_everything_answers(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert {c["name"]: c["ok"] for c in ready.json()["checks"]} == {
        "postgres": True,
        "redis": True,
        "storage": True,
    }


async def test_ready_is_503_naming_the_part_that_is_down(settings: Settings) -> None:
    broken = replace(settings, redis_url="redis://127.0.0.1:1/0")
    container = await build_container(broken)
    try:
        transport = httpx.ASGITransport(app=create_app(container=container))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/ready")
    finally:
        await container.close()
    assert response.status_code == 503
    assert response.json()["failed"] == ["redis"]
    assert "redis" in response.json()["detail"]


async def test_openapi_lists_every_endpoint_of_v1_and_nothing_else(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/v1/openapi.json")).json()["paths"]
    expected = {
        "/v1/auth/signup", "/v1/auth/login", "/v1/auth/me", "/v1/actors", "/v1/actors/{actor_id}",
        "/v1/tokens", "/v1/tokens/{token_id}", "/v1/tokens/{token_id}/reference-audio",
        "/v1/tokens/{token_id}/bookmark", "/v1/scripts", "/v1/scripts/{script_id}",
        "/v1/scripts/{script_id}/reference-audio", "/v1/scripts/{script_id}/bookmark", "/v1/mypage",
    }  # fmt: skip
    assert expected <= set(paths)
    assert [path for path in paths if not path.startswith("/v1/")] == []


async def test_cors_allows_configured_origins_only(client: httpx.AsyncClient) -> None:
    allowed = await client.get("/health", headers={"Origin": "http://localhost:8000"})
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:8000"
    denied = await client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in denied.headers
