"""One middleware reads the bearer token for every route; handlers take use cases, never the container."""

from __future__ import annotations

import inspect

import httpx
import pytest
from litestar.handlers import HTTPRouteHandler

from entrypoints.http.app import create_app
from entrypoints.http.security import bearer_token
from entrypoints.settings import Settings
from tests.support.api_client import SignUp

FORGED = {"Authorization": "Bearer not-a-token"}


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc.def", "abc.def"),
        ("bearer  abc.def ", "abc.def"),
        ("Basic abc", None),
        ("Bearer ", None),
        ("", None),
    ],
)
def test_only_a_bearer_scheme_with_a_token_counts(header: str, token: str | None) -> None:
    assert bearer_token({"authorization": header}) == token


async def test_the_signed_in_user_reaches_the_handler(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    headers = await sign_up(email="me@example.com")

    me = await client.get("/v1/auth/me", headers=headers)

    assert (me.status_code, me.json()["email"]) == (200, "me@example.com")


async def test_a_protected_route_without_a_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/jobs")

    assert (response.status_code, response.headers["www-authenticate"]) == (401, "Bearer")


async def test_a_forged_token_is_401_on_a_protected_route(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/mypage", headers=FORGED)

    assert response.json()["type"] == "/problems/unauthenticated"


async def test_a_forged_token_does_not_lock_a_public_route(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/tokens", headers=FORGED)

    assert response.status_code == 200


async def test_a_forged_token_is_401_before_the_upload_rate_limit_counts(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/jobs/00000000-0000-0000-0000-000000000000/submit", headers=FORGED)

    assert response.status_code == 401


async def test_a_users_token_opens_no_admin_queue(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    response = await client.get("/admin/queue/api/queues", headers=await sign_up())

    assert response.status_code == 403


def test_no_handler_takes_the_container(settings: Settings) -> None:
    app = create_app(settings)
    handlers = [handler for route in app.routes for handler in getattr(route, "route_handlers", [])]
    offenders = [
        f"{handler.handler_name}({name})"
        for handler in handlers
        if isinstance(handler, HTTPRouteHandler)
        for name, parameter in inspect.signature(handler.fn).parameters.items()
        if name == "services" or "Container" in str(parameter.annotation)
    ]

    assert handlers
    assert offenders == []
