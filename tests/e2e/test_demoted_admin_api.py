"""Roles are read from the account on admin requests: an admin demoted or deleted after logging in loses
admin rights at once, with the bearer token and with the queue UI's session cookie alike."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

ADMIN_EMAIL = "admin@example.com"


async def _set_role(engine: AsyncEngine, role: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE users SET role = :role WHERE email = :email"), {"role": role, "email": ADMIN_EMAIL}
        )


async def test_a_demoted_admin_token_no_longer_writes_the_catalog(
    client: httpx.AsyncClient, admin_headers: dict[str, str], engine: AsyncEngine
) -> None:
    assert (
        await client.post("/v1/actors", json={"name": "Before"}, headers=admin_headers)
    ).status_code == 201
    await _set_role(engine, "user")

    refused = await client.post("/v1/actors", json={"name": "After"}, headers=admin_headers)

    assert (refused.status_code, refused.json()["type"]) == (403, "/problems/forbidden")
    assert (await client.get("/v1/auth/me", headers=admin_headers)).status_code == 200  # still a user


async def test_a_promoted_user_needs_no_new_token_to_act_as_admin(
    client: httpx.AsyncClient, admin_headers: dict[str, str], engine: AsyncEngine
) -> None:
    """Only tokens claiming admin are checked: a user's token stays a user's until it is renewed."""
    await _set_role(engine, "user")
    fresh = await client.post(
        "/v1/auth/login", data={"username": ADMIN_EMAIL, "password": "admin password 123"}
    )
    user_headers = {"Authorization": f"Bearer {fresh.json()['access_token']}"}
    await _set_role(engine, "admin")

    assert (await client.post("/v1/actors", json={"name": "A"}, headers=user_headers)).status_code == 403
    assert (await client.post("/v1/actors", json={"name": "B"}, headers=admin_headers)).status_code == 201


async def test_a_deleted_admin_token_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str], engine: AsyncEngine
) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM users WHERE email = :email"), {"email": ADMIN_EMAIL})

    refused = await client.post("/v1/actors", json={"name": "Ghost"}, headers=admin_headers)

    assert (refused.status_code, refused.json()["type"]) == (401, "/problems/unauthenticated")


async def test_a_demoted_admin_queue_session_cookie_no_longer_opens_the_ui(
    client: httpx.AsyncClient, admin_headers: dict[str, str], engine: AsyncEngine
) -> None:
    assert (await client.post("/admin/queue/session", headers=admin_headers)).status_code == 204
    assert (await client.get("/admin/queue/")).status_code == 200
    await _set_role(engine, "user")

    refused = await client.get("/admin/queue/")

    assert (refused.status_code, refused.json()["type"]) == (403, "/problems/forbidden")
