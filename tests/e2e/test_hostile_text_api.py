"""Text PostgreSQL refuses (NUL) and numbers Python refuses to convert, in every kind of input: 400 or
403 problem details, never a 500, nothing written."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api_client import SignUp


def _is_validation_problem(response: httpx.Response) -> bool:
    return (
        response.status_code == 400
        and response.headers["content-type"] == "application/problem+json"
        and response.json()["type"] == "/problems/validation"
    )


@pytest.mark.parametrize(
    "path",
    [
        "/v1/tokens?q=%00",
        "/v1/tokens?q=a%00b&actor_id=",
        "/v1/actors?q=%00",
        "/v1/scripts?q=%00",
        "/storage/recordings/%00.wav?expires=1&method=GET&sig=x",
    ],
)
async def test_a_nul_in_the_url_is_a_validation_problem(client: httpx.AsyncClient, path: str) -> None:
    assert _is_validation_problem(await client.get(path))


@pytest.mark.parametrize(
    ("send", "expected"),
    [
        (lambda c: c.get("/v1/tokens?q=a%00b&limit=5"), {"field": "q", "source": "query"}),
        (
            lambda c: c.post("/v1/auth/login", data={"username": "a\x00", "password": "x"}),
            {"field": "username", "source": "body"},
        ),
        (
            lambda c: c.post(
                "/v1/auth/signup", json={"email": "e", "password": "p", "names": ["ok", "n\u0000"]}
            ),
            {"field": "names[1]", "source": "body"},
        ),
    ],
)
async def test_the_validation_problem_names_the_field_holding_the_nul(
    client: httpx.AsyncClient, send: Any, expected: dict[str, str]
) -> None:
    answer = await send(client)
    assert _is_validation_problem(answer)
    [error] = answer.json()["errors"]
    assert {key: error[key] for key in expected} == expected


async def test_a_nul_where_an_id_belongs_matches_no_route(client: httpx.AsyncClient) -> None:
    answer = await client.get("/v1/tokens/%00")
    assert (answer.status_code, answer.json()["type"]) == (404, "/problems/not-found")


async def test_a_nul_in_a_sign_up_is_refused_and_makes_no_account(client: httpx.AsyncClient) -> None:
    body = {"email": "nul@example.com", "password": "correct horse battery", "display_name": "A\u0000B"}
    assert _is_validation_problem(await client.post("/v1/auth/signup", json=body))
    body["display_name"] = "AB"
    assert (await client.post("/v1/auth/signup", json=body)).status_code == 201


async def test_a_nul_in_a_log_in_form_is_a_validation_problem(client: httpx.AsyncClient) -> None:
    refused = await client.post("/v1/auth/login", data={"username": "a\x00@example.com", "password": "x"})
    assert _is_validation_problem(refused)


async def test_a_nul_in_an_admin_text_field_is_refused_and_writes_nothing(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    refused = await client.post("/v1/actors", json={"name": "Ada\u0000"}, headers=admin_headers)
    assert _is_validation_problem(refused)
    nested = await client.post(
        "/v1/scripts",
        json={"title": "t", "text": "hi", "words": [{"text": "h\u0000i"}]},
        headers=admin_headers,
    )
    assert _is_validation_problem(nested)
    assert (await client.get("/v1/actors")).json()["items"] == []


async def test_an_escaped_backslash_before_u0000_is_ordinary_text(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    """``"\\\\u0000"`` in JSON is a backslash and five characters, not a NUL: it is stored as sent."""
    created = await client.post("/v1/actors", json={"name": "back\\u0000slash"}, headers=admin_headers)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "back\\u0000slash"


async def test_a_storage_expiry_of_thousands_of_digits_is_a_403(client: httpx.AsyncClient) -> None:
    answer = await client.get(f"/storage/recordings/x.wav?expires={'9' * 5000}&method=GET&sig=abc")
    assert answer.status_code == 403
    assert answer.json()["type"] == "/problems/forbidden"


async def test_a_signed_in_user_sending_nul_in_json_gets_a_validation_problem(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    headers = await sign_up()
    answer = await client.post(
        "/v1/tokens/00000000-0000-0000-0000-000000000000/uploads",
        json={"content_type": "audio/wav\u0000"},
        headers=headers,
    )
    assert _is_validation_problem(answer)
