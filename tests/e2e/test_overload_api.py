"""Overload against a real API process: uploads beyond what it can take are refused with 503 and
``Retry-After`` (its admission limit, or a connection pool that stays full), never 500, and every upload
it accepted is a queued job; retried with the same Idempotency-Key, every refused upload gets in."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from entrypoints.settings import Settings
from tests.support.api_client import SignUp
from tests.support.full_system import free_port
from tests.support.processes import api_environment, api_process
from tests.support.recordings import tone

UPLOADS = 40
RETRY_ROUNDS = 150


@contextmanager
def api(settings: Settings, root: Path, **variables: str) -> Iterator[str]:
    """An API process on the test's database (where the reference token is) with ``variables`` set."""
    port = free_port()
    environment = api_environment(
        settings.database_url,
        settings.redis_url,
        root,
        SAQ_QUEUE_NAME=f"overload-{uuid.uuid4().hex[:8]}",
        UPLOAD_RATE_LIMIT="off",
        **variables,
    )
    process = api_process(environment, root / "logs", port)
    process.start(timeout=90.0)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


async def _upload_all_at_once(
    base_url: str, token_id: str, user: dict[str, str], keys: list[str]
) -> list[httpx.Response]:
    audio = tone(1.0)
    limits = httpx.Limits(max_connections=len(keys))
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0, limits=limits) as client:
        start = asyncio.Event()

        async def one(key: str) -> httpx.Response:
            await start.wait()
            return await client.post(
                f"/v1/tokens/{token_id}/upload-audio",
                files={"file": ("take.wav", audio)},
                headers={**user, "Idempotency-Key": key},
            )

        tasks = [asyncio.create_task(one(key)) for key in keys]
        await asyncio.sleep(0.1)
        start.set()
        return list(await asyncio.gather(*tasks))


def _assert_refusals_are_503_with_retry_after(answers: list[httpx.Response], problem: str) -> None:
    assert {answer.status_code for answer in answers} <= {202, 503}, [a.text for a in answers]
    refused = [answer for answer in answers if answer.status_code == 503]
    assert refused, "the overload never engaged; nothing was refused"
    for answer in refused:
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["type"] == f"/problems/{problem}", answer.text
        assert int(answer.headers["retry-after"]) >= 1


async def _retry_until_accepted(
    base_url: str, token_id: str, user: dict[str, str], keys: list[str], first: list[httpx.Response]
) -> dict[str, str]:
    """Each key's job id: refused uploads are sent again, one at a time, under the same key."""
    jobs = {
        key: answer.json()["id"] for key, answer in zip(keys, first, strict=True) if answer.status_code == 202
    }
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0) as client:
        for key in keys:
            for _ in range(RETRY_ROUNDS):
                if key in jobs:
                    break
                answer = await client.post(
                    f"/v1/tokens/{token_id}/upload-audio",
                    files={"file": ("take.wav", tone(1.0))},
                    headers={**user, "Idempotency-Key": key},
                )
                # 409: the refused attempt's key is being released (in the background when the pool that
                # refused it was still full); like 503, it says when to come back.
                assert answer.status_code in {202, 409, 503}, answer.text
                if answer.status_code == 202:
                    jobs[key] = answer.json()["id"]
                else:
                    assert int(answer.headers["retry-after"]) >= 1
                    await asyncio.sleep(0.2)
        for job_id in jobs.values():
            job = await client.get(f"/v1/jobs/{job_id}", headers=user)
            assert job.status_code == 200, job.text
            assert job.json()["status"] == "queued"
    assert set(jobs) == set(keys)
    assert len(set(jobs.values())) == len(keys)
    return jobs


async def test_uploads_past_the_admission_limit_are_503_with_retry_after_and_get_in_when_retried(
    settings: Settings, tmp_path: Path, sign_up: SignUp, reference_token: dict[str, Any]
) -> None:
    user = await sign_up()
    keys = [uuid.uuid4().hex for _ in range(UPLOADS)]
    with api(settings, tmp_path, UPLOAD_MAX_IN_FLIGHT="2", UPLOAD_ADMISSION_WAIT_SECONDS="0") as base_url:
        first = await _upload_all_at_once(base_url, reference_token["id"], user, keys)
        _assert_refusals_are_503_with_retry_after(first, "overloaded")
        await _retry_until_accepted(base_url, reference_token["id"], user, keys, first)


async def test_a_connection_pool_that_stays_full_is_503_with_retry_after_not_500(
    settings: Settings, tmp_path: Path, sign_up: SignUp, reference_token: dict[str, Any]
) -> None:
    user = await sign_up()
    keys = [uuid.uuid4().hex for _ in range(UPLOADS)]
    with api(
        settings,
        tmp_path,
        UPLOAD_MAX_IN_FLIGHT=str(UPLOADS),
        DATABASE_POOL_SIZE="1",
        DATABASE_POOL_OVERFLOW="0",
        DATABASE_POOL_TIMEOUT_SECONDS="0.01",
    ) as base_url:
        first = await _upload_all_at_once(base_url, reference_token["id"], user, keys)
        _assert_refusals_are_503_with_retry_after(first, "dependency-unavailable")
        await _retry_until_accepted(base_url, reference_token["id"], user, keys, first)
