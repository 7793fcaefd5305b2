"""The reference analysis server as a real process (``voicepractice analysis-server``), and the API's side
of the protocol played by an API double over real HTTP: audio at URLs and a webhook endpoint."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared_kernel.webhooks import generate_webhook_secret
from tests.support.api_double import ApiDouble, ReceivedWebhook
from tests.support.full_system import analysis_server_process, free_port
from tests.support.processes import ServiceProcess

AUTH_TOKEN = "integration-test-bearer-token-0123456789"
WEBHOOK_SECRET = generate_webhook_secret()
ALLOWED_BY_NAME_ONLY = "127.0.0.2"


@pytest.fixture(scope="session")
def api_double() -> Iterator[ApiDouble]:
    with ApiDouble(webhook_secret=WEBHOOK_SECRET) as double:
        yield double


@pytest.fixture(scope="session")
def analysis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The server's base URL; it signs with WEBHOOK_SECRET and wants AUTH_TOKEN."""
    port = free_port()
    env = {
        "APP_ENV": "test",
        "ANALYSIS_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "ANALYSIS_SERVER_AUTH_TOKEN": AUTH_TOKEN,
        # The API double is at 127.0.0.1; 127.0.0.2 is allowed by name only, to be refused by address.
        "ANALYSIS_SERVER_ALLOWED_HOSTS": f"127.0.0.1,{ALLOWED_BY_NAME_ONLY}",
        "ANALYSIS_SERVER_ALLOWED_PRIVATE_NETWORKS": "127.0.0.1/32",
        "ANALYSIS_SERVER_CONCURRENCY": "2",
        "LOG_LEVEL": "INFO",
        # As run-all, the Dockerfile and fly.toml set it for every process: the API's process count.
        "WEB_CONCURRENCY": "2",
    }
    process: ServiceProcess = analysis_server_process(
        env, Path(tmp_path_factory.mktemp("analysis-logs")), port
    )
    process.start(timeout=120.0)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30.0)


@dataclass(frozen=True, slots=True)
class Submission:
    job_id: str
    answer: httpx.Response
    body: dict[str, Any]


Submit = Callable[..., Submission]


@pytest.fixture
def submit(analysis_server: str, api_double: ApiDouble) -> Submit:
    """POST an analysis request for ``recording`` against ``reference``, both served by the API double."""

    def send(
        recording: bytes,
        reference: bytes,
        words: list[dict[str, Any]] | None = None,
        *,
        job_id: str | None = None,
        recording_url: str | None = None,
        callback_url: str | None = None,
        server_url: str | None = None,
    ) -> Submission:
        job_id = job_id or str(uuid.uuid4())
        body = {
            "job_id": job_id,
            "kind": "token",
            "recording": {
                "url": recording_url or api_double.serve(f"{job_id}-take", recording),
                "content_type": "",
            },
            "reference": {"url": api_double.serve(f"{job_id}-reference", reference), "content_type": ""},
            "callback_url": callback_url or api_double.callback_url,
            "deadline": None,
            "text": "",
            "words": words or [],
        }
        answer = httpx.post(
            f"{server_url or analysis_server}/v1/analyses",
            json=body,
            headers={"Authorization": f"Bearer {AUTH_TOKEN}", "Idempotency-Key": job_id},
            timeout=10.0,
        )
        return Submission(job_id, answer, body)

    return send


def final(webhooks: list[ReceivedWebhook]) -> ReceivedWebhook:
    return next(hook for hook in reversed(webhooks) if hook.type in ("analysis.completed", "analysis.failed"))
