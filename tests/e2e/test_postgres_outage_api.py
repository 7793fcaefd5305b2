"""Postgres stopped for a few seconds under the whole system (a cluster of the test's own): requests answer
503 with Retry-After naming Postgres, never 500, and everything recovers without restarting a process."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.persistence import migrations
from shared_kernel.settings import DEV_WEBHOOK_SECRET
from shared_kernel.webhooks import WebhookSigner
from tests.support.full_system import System, running_system
from tests.support.postgres_server import PostgresServer, postgres_binaries, private_postgres
from tests.support.redis_server import private_redis

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(postgres_binaries() is None, reason="needs Debian's postgresql server package"),
]

LINE = "Keep your eyes on the road."
OUTAGE_SECONDS = 3.0


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: Any) -> Path:
    path: Path = tmp_path_factory.mktemp("postgres-outage")
    return path


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with private_postgres() as server:
        migrations.upgrade(server.url)
        yield server


@pytest.fixture(scope="module")
def system(postgres: PostgresServer, workdir: Path) -> Iterator[System]:
    with (
        private_redis(workdir) as redis_server,
        running_system(postgres.url, redis_server.url, workdir) as running,
    ):
        yield running


def _requests_while_down(
    system: System, user: dict[str, str], token_id: str, job_id: str, audio: bytes
) -> list[httpx.Response]:
    """An upload, a job, a stream, a log-in and a webhook, over and over for the outage's length."""
    answers: list[httpx.Response] = []
    signer = WebhookSigner(DEV_WEBHOOK_SECRET)
    deadline = time.monotonic() + OUTAGE_SECONDS
    with httpx.Client(base_url=system.api_url, timeout=10.0) as client:
        while time.monotonic() < deadline:
            answers.append(
                client.post(
                    f"/v1/tokens/{token_id}/upload-audio", files={"file": ("take.wav", audio)}, headers=user
                )
            )
            answers.append(client.get(f"/v1/jobs/{job_id}", headers=user))
            answers.append(client.get(f"/v1/jobs/{job_id}/events", headers=user))
            answers.append(
                client.post("/v1/auth/login", data={"username": "outage@example.com", "password": "whatever"})
            )
            webhook = json.dumps(
                {
                    "type": "analysis.progress",
                    "timestamp": "2026-01-01T00:00:00Z",
                    "data": {"job_id": job_id, "percent": 50, "stage": "scoring"},
                }
            ).encode()
            headers = {
                **signer.headers(f"msg_{uuid.uuid4().hex}", webhook),
                "Content-Type": "application/json",
            }
            answers.append(client.post("/webhooks/analysis", content=webhook, headers=headers))
    return answers


def test_a_postgres_outage_is_a_503_with_retry_after_and_recovers_without_a_restart(
    system: System, postgres: PostgresServer, workdir: Path
) -> None:
    token_id, user, audio = system.practice_token(LINE, "outage@example.com")
    before = system.upload(user, "tokens", token_id, audio, "before.wav")

    postgres.stop()
    try:
        answers = _requests_while_down(system, user, token_id, before, audio)
    finally:
        postgres.start()
    # The first request after recovery succeeds: the pool discards the connections the restart killed.
    first_after = httpx.get(f"{system.api_url}/jobs/{before}", headers=user, timeout=10.0)
    after = system.upload(user, "tokens", token_id, audio, "after.wav")

    assert answers, "no request was made while Postgres was down"
    refused = [
        (answer.request.url.path, answer.status_code) for answer in answers if answer.status_code != 503
    ]
    assert not refused, f"{refused}\n{system.logs()}"
    for answer in answers:
        problem = answer.json()
        assert problem["type"] == "/problems/dependency-unavailable", problem
        assert problem["dependency"] == "postgres", problem
        assert int(answer.headers["Retry-After"]) > 0
    assert first_after.status_code == 200, first_after.text
    assert system.follow(user, after, timeout=90.0)[-1].event == "completed", system.logs()
    assert system.follow(user, before, timeout=90.0)[-1].event == "completed", system.logs()
    stored = {path.name.split(".")[0] for path in (workdir / "storage" / "objects" / "recordings").iterdir()}
    assert stored == {before, after}, "a recording was stored without its job, or a job lost its recording"
