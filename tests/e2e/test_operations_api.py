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


async def test_openapi_lists_every_endpoint(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    expected = {
        "/auth/signup", "/auth/login", "/auth/me", "/actors", "/actors/{actor_id}", "/tokens",
        "/tokens/{token_id}", "/tokens/{token_id}/reference-audio", "/tokens/{token_id}/bookmark",
        "/scripts", "/scripts/{script_id}", "/scripts/{script_id}/reference-audio",
        "/scripts/{script_id}/bookmark", "/mypage", "/health", "/ready",
    }  # fmt: skip
    assert expected <= set(paths)


async def test_cors_allows_configured_origins_only(client: httpx.AsyncClient) -> None:
    allowed = await client.get("/health", headers={"Origin": "http://localhost:8000"})
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:8000"
    denied = await client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in denied.headers
