"""Accounts over HTTP: sign up, log in, who am I."""

from __future__ import annotations

import httpx

from tests.support.api_client import SignUp

PROBLEM = "application/problem+json"


async def test_signup_login_and_me_round_trip(client: httpx.AsyncClient) -> None:
    signup = await client.post(
        "/v1/auth/signup",
        json={"email": "Ada@Example.com", "password": "s3cret-enough", "display_name": "Ada"},
    )
    assert signup.status_code == 201
    assert signup.json()["email"] == "ada@example.com"
    assert "password" not in signup.text

    login = await client.post(
        "/v1/auth/login", data={"username": "ada@example.com", "password": "s3cret-enough"}
    )
    assert login.status_code == 200
    body = login.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0

    me = await client.get("/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["role"] == "user"
    assert me.json()["display_name"] == "Ada"


async def test_duplicate_email_is_a_409_problem_regardless_of_case(client: httpx.AsyncClient) -> None:
    body = {"email": "dup@example.com", "password": "long enough pw", "display_name": "One"}
    assert (await client.post("/v1/auth/signup", json=body)).status_code == 201
    again = await client.post("/v1/auth/signup", json={**body, "email": "DUP@example.com"})
    assert again.status_code == 409
    assert again.headers["content-type"].startswith(PROBLEM)
    assert again.json()["type"] == "/problems/conflict"


async def test_wrong_password_and_unknown_email_get_the_same_401(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    await sign_up(email="known@example.com", password="the right password")
    wrong_password = await client.post(
        "/v1/auth/login", data={"username": "known@example.com", "password": "nope nope"}
    )
    unknown_email = await client.post(
        "/v1/auth/login", data={"username": "ghost@example.com", "password": "nope nope"}
    )
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json()["detail"] == unknown_email.json()["detail"]
    assert wrong_password.json()["type"] == unknown_email.json()["type"] == "/problems/unauthenticated"


async def test_me_without_or_with_a_forged_token_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/auth/me")).status_code == 401
    forged = await client.get("/v1/auth/me", headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."})
    assert forged.status_code == 401
    assert forged.headers["www-authenticate"] == "Bearer"


async def test_signup_validation_names_the_field(client: httpx.AsyncClient) -> None:
    short = await client.post(
        "/v1/auth/signup", json={"email": "a@example.com", "password": "short", "display_name": "A"}
    )
    assert short.status_code == 422
    assert short.json()["errors"][0]["field"] == "password"

    bad_email = await client.post(
        "/v1/auth/signup", json={"email": "not-an-email", "password": "long enough pw", "display_name": "A"}
    )
    assert bad_email.json()["errors"][0]["field"] == "email"

    missing = await client.post("/v1/auth/signup", json={"email": "a@example.com"})
    assert missing.status_code == 400
    assert missing.headers["content-type"].startswith(PROBLEM)
    assert "password" in missing.json()["detail"]


async def test_malformed_bodies_are_400_problems_never_500(client: httpx.AsyncClient) -> None:
    for raw in (b"{", b"[]", b"null", b'{"email": 5}', "\udcff".encode("utf-8", "surrogatepass")):
        response = await client.post(
            "/v1/auth/signup", content=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, (raw, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)


async def test_responses_carry_a_request_id_and_echo_a_sane_incoming_one(
    client: httpx.AsyncClient,
) -> None:
    generated = await client.get("/health")
    assert len(generated.headers["x-request-id"]) == 32
    echoed = await client.get("/health", headers={"X-Request-ID": "trace-abc.123"})
    assert echoed.headers["x-request-id"] == "trace-abc.123"
    hostile = await client.get("/health", headers={"X-Request-ID": "x" * 500})
    assert hostile.headers["x-request-id"] != "x" * 500
