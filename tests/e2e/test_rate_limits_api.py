"""Rate limits over HTTP, counted in real Redis under a key prefix of each test's own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from litestar import Litestar, post
from litestar.datastructures import State

from adapters.ratelimit.redis_gcra import RedisRateLimiter
from entrypoints.bootstrap import Container, build_container
from entrypoints.http.app import create_app
from entrypoints.http.metrics import ApiMetrics
from entrypoints.http.problems import UNHANDLED_ERROR_HANDLERS, problem_details_plugin
from entrypoints.http.rate_limits import limit_uploads
from entrypoints.http.security import BearerAuthentication
from entrypoints.settings import Rate, Settings
from tests.support.api_client import TEST_BASE_URL, SignUp
from tests.support.prometheus import Scrape

DEAD_REDIS_URL = "redis://127.0.0.1:1/0"
PASSWORD = "correct horse battery"
LIMITS = {
    "login_rate_limit_per_account": Rate(3, 60),
    "login_rate_limit_per_address": Rate(5, 60),
    "upload_rate_limit": Rate(2, 60),
}


@pytest.fixture
async def limited(container: Container) -> AsyncIterator[Container]:
    """The test's container with the limits on and the limiter's keys under a prefix of this test."""
    prefix = f"test-ratelimit-{uuid.uuid4().hex}"
    yield replace(
        container,
        settings=replace(container.settings, **LIMITS),  # type: ignore[arg-type]
        rate_limiter=RedisRateLimiter(container.redis, prefix=prefix),
    )
    keys = [key async for key in container.redis.scan_iter(f"{prefix}:*")]
    if keys:
        await container.redis.delete(*keys)


async def _client(app: Litestar) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=TEST_BASE_URL)


@pytest.fixture
async def limited_client(limited: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with await _client(create_app(container=limited)) as client:
        yield client


async def log_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, **headers: str
) -> httpx.Response:
    return await client.post(
        "/v1/auth/login", data={"username": email, "password": password}, headers=headers
    )


async def test_log_ins_within_the_account_budget_get_the_usual_answer(
    limited_client: httpx.AsyncClient,
) -> None:
    answers = [(await log_in(limited_client, "ada@example.com", "wrong")).status_code for _ in range(3)]
    assert answers == [401, 401, 401]


async def test_a_log_in_over_the_account_budget_is_429(limited_client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await log_in(limited_client, "ada@example.com", "wrong")
    refused = await log_in(limited_client, "ada@example.com", "wrong")
    assert (refused.status_code, refused.headers["content-type"]) == (429, "application/problem+json")


async def test_the_429_is_the_rate_limited_problem(limited_client: httpx.AsyncClient) -> None:
    for _ in range(4):
        refused = await log_in(limited_client, "ada@example.com", "wrong")
    assert refused.json()["type"] == "/problems/rate-limited"


async def test_the_429_says_when_to_retry_in_whole_seconds(limited_client: httpx.AsyncClient) -> None:
    for _ in range(4):
        refused = await log_in(limited_client, "ada@example.com", "wrong")
    assert 1 <= int(refused.headers["retry-after"]) <= 20


async def test_the_account_budget_ignores_the_spelling_of_the_email(
    limited_client: httpx.AsyncClient,
) -> None:
    for email in ("ada@example.com", "ADA@example.com", " Ada@Example.com"):
        await log_in(limited_client, email, "wrong")
    assert (await log_in(limited_client, "ada@EXAMPLE.com", "wrong")).status_code == 429


async def test_the_right_password_is_refused_too_once_the_account_budget_is_spent(
    limited_client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    await sign_up("grace@example.com", PASSWORD)  # the unlimited client: not counted
    for _ in range(3):
        await log_in(limited_client, "grace@example.com", "wrong")
    assert (await log_in(limited_client, "grace@example.com")).status_code == 429


async def test_one_address_trying_many_accounts_hits_the_address_budget(
    limited_client: httpx.AsyncClient,
) -> None:
    for number in range(5):
        await log_in(limited_client, f"user{number}@example.com", "wrong")
    assert (await log_in(limited_client, "someone.else@example.com", "wrong")).status_code == 429


async def test_refusals_are_counted_by_limit(limited_client: httpx.AsyncClient) -> None:
    for _ in range(4):
        await log_in(limited_client, "ada@example.com", "wrong")
    metrics = Scrape((await limited_client.get("/metrics")).text)
    assert metrics.value("voicepractice_rate_limited_total", limit="login_account") == 1


@pytest.fixture
async def behind_fly_proxy(limited: Container) -> AsyncIterator[httpx.AsyncClient]:
    proxied = replace(limited, settings=replace(limited.settings, client_ip_header="Fly-Client-IP"))
    async with await _client(create_app(container=proxied)) as client:
        yield client


async def test_the_configured_client_ip_header_tells_addresses_apart(
    behind_fly_proxy: httpx.AsyncClient,
) -> None:
    for number in range(5):
        await log_in(
            behind_fly_proxy, f"user{number}@example.com", "wrong", **{"Fly-Client-IP": "203.0.113.1"}
        )
    other_address = await log_in(
        behind_fly_proxy, "new@example.com", "wrong", **{"Fly-Client-IP": "203.0.113.2"}
    )
    assert other_address.status_code == 401


@pytest.fixture
async def redis_down(settings: Settings) -> AsyncIterator[Container]:
    container = await build_container(replace(settings, redis_url=DEAD_REDIS_URL, **LIMITS))  # type: ignore[arg-type]
    yield container
    await container.close()


async def test_log_in_still_works_while_redis_is_down(redis_down: Container, sign_up: SignUp) -> None:
    await sign_up("ada@example.com", PASSWORD)
    async with await _client(create_app(container=redis_down)) as client:
        assert (await log_in(client, "ada@example.com")).status_code == 200


async def test_log_ins_let_through_unchecked_are_counted(redis_down: Container) -> None:
    async with await _client(create_app(container=redis_down)) as client:
        await log_in(client, "ada@example.com", "wrong")
        metrics = Scrape((await client.get("/metrics")).text)
    assert metrics.value("voicepractice_rate_limiter_errors_total", limit="login_address") == 1


@post("/uploads-under-test", guards=[limit_uploads], status_code=202)
async def guarded_upload() -> dict[str, str]:
    return {"status": "queued"}


@pytest.fixture
async def upload_client(limited: Container) -> AsyncIterator[httpx.AsyncClient]:
    """A route with the guard the upload routes take, behind the app's authentication, in an app of its own."""
    app = Litestar(
        route_handlers=[guarded_upload],
        middleware=[BearerAuthentication],
        exception_handlers=UNHANDLED_ERROR_HANDLERS,
        plugins=[problem_details_plugin()],
        state=State({"container": limited, "metrics": ApiMetrics()}),
    )
    async with await _client(app) as client:
        yield client


async def uploads(client: httpx.AsyncClient, headers: dict[str, str], times: int) -> list[int]:
    return [(await client.post("/uploads-under-test", headers=headers)).status_code for _ in range(times)]


async def test_uploads_within_the_budget_pass_the_guard(
    upload_client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    assert await uploads(upload_client, await sign_up(), 2) == [202, 202]


async def test_an_upload_over_the_budget_is_429(upload_client: httpx.AsyncClient, sign_up: SignUp) -> None:
    assert (await uploads(upload_client, await sign_up(), 3))[-1] == 429


async def test_each_user_has_an_upload_budget_of_their_own(
    upload_client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    await uploads(upload_client, await sign_up(), 3)
    assert await uploads(upload_client, await sign_up(), 1) == [202]


async def test_the_upload_guard_leaves_anonymous_requests_to_the_route(
    upload_client: httpx.AsyncClient,
) -> None:
    assert await uploads(upload_client, {}, 3) == [202, 202, 202]


async def test_the_upload_guard_refuses_a_forged_token(upload_client: httpx.AsyncClient) -> None:
    response = await upload_client.post("/uploads-under-test", headers={"Authorization": "Bearer forged"})
    assert response.status_code == 401
