"""Every kind of error -- domain, validation, Litestar's own, raised problems -- answers the same RFC 9457
shape through the ProblemDetailsPlugin: the documented fields, no more, and the stable ``type``."""

from __future__ import annotations

import httpx
import pytest

from entrypoints.http.problems import PROBLEM_MEDIA_TYPE

FIELDS = {"type", "title", "status", "detail", "instance"}


def assert_problem(
    response: httpx.Response, status: int, type_: str, title: str, extra: frozenset[str] = frozenset()
) -> None:
    body = response.json()
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert (response.status_code, body["status"], body["type"], body["title"]) == (
        status,
        status,
        type_,
        title,
    )
    assert body["instance"] == response.request.url.path
    assert set(body) == FIELDS | extra


async def test_a_domain_error_is_a_problem_with_its_code_as_type(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/auth/me", headers={"Authorization": "Bearer not-a-token"})

    assert_problem(response, 401, "/problems/unauthenticated", "Unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_rule_broken_names_the_field_in_errors(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/auth/signup", json={"email": "short@example.com", "password": "x", "display_name": "S"}
    )

    assert_problem(response, 422, "/problems/invalid-input", "Unprocessable Entity", frozenset({"errors"}))
    assert response.json()["errors"][0]["field"] == "password"


async def test_a_schema_mismatch_lists_each_field_with_its_source(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/auth/signup", json={"email": "a@example.com"})

    assert_problem(response, 400, "/problems/validation", "Bad Request", frozenset({"errors"}))
    assert {error["field"] for error in response.json()["errors"]} <= {"password", "display_name"}
    assert all(set(error) == {"field", "message", "source"} for error in response.json()["errors"])


@pytest.mark.parametrize(
    ("method", "path", "status", "type_", "title"),
    [
        ("GET", "/no-such-path", 404, "/problems/not-found", "Not Found"),
        ("DELETE", "/v1/auth/signup", 405, "/problems/method-not-allowed", "Method Not Allowed"),
        ("POST", "/webhooks/analysis", 400, "/problems/webhook-malformed", "Bad Request"),
    ],
    ids=["litestar-404", "litestar-405", "raised-problem"],
)
async def test_litestar_errors_and_raised_problems_share_the_shape(
    client: httpx.AsyncClient, method: str, path: str, status: int, type_: str, title: str
) -> None:
    response = await client.request(method, path, content=b"{}")

    assert_problem(response, status, type_, title)
