"""Talking to the API as a client in the e2e tests: the in-process base URL, signing up and logging in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

TEST_BASE_URL = "http://testserver.local"
SignUp = Callable[..., Awaitable[dict[str, str]]]


async def log_in(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    """The Authorization header of a logged-in user."""
    response = await client.post("/v1/auth/login", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
