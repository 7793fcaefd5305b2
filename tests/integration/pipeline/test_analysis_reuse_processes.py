"""Reusing finished analyses across the real processes: the API (`voicepractice serve`) and the worker
against real Postgres and Redis, and the stub analysis server over HTTP, which completes what it receives
with signed webhooks and records every request.

A recording with the bytes of one already analysed for the same item, reference audio and feature
version completes at once from the stored result, and the analysis server never receives it; one changed
byte, a new reference audio, another feature version or `reuse=false` are analysed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy import text

from domain.accounts import Principal, Role
from domain.catalog import ReferenceKind
from entrypoints.bootstrap import Container
from entrypoints.settings import Settings
from tests.support.full_system import free_port, sse_events
from tests.support.pipeline import Catalog, eventually
from tests.support.processes import ServiceProcess, api_process, worker_process
from tests.support.recordings import tone
from tests.support.stub_analysis_server import StubAnalysisServer

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"


@pytest.fixture
async def api(
    settings: Settings, stub: StubAnalysisServer, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The API and worker processes, started; a client of the API signed in as a new user."""
    port = free_port()
    env = {
        "APP_ENV": "test",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "LOCAL_STORAGE_DIR": str(settings.local_storage_dir),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "ANALYSIS_TOKEN_SERVER_URL": stub.url,
        "ANALYSIS_SCRIPT_SERVER_URL": stub.url,
        "ANALYSIS_CALLBACK_URL": f"http://127.0.0.1:{port}/webhooks/analysis",
        "UPLOAD_RATE_LIMIT": "off",
        "LOGIN_RATE_LIMIT_PER_ACCOUNT": "off",
        "LOGIN_RATE_LIMIT_PER_ADDRESS": "off",
        "SIGN_UP_RATE_LIMIT_PER_ADDRESS": "off",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
    }
    processes: list[ServiceProcess] = [
        api_process(env, tmp_path / "logs", port),
        worker_process(env, tmp_path / "logs"),
    ]
    try:
        await asyncio.gather(*(asyncio.to_thread(process.start) for process in processes))
        stub.send_webhooks()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30.0) as client:
            email = f"{uuid4().hex[:8]}@example.com"
            body = {"email": email, "password": PASSWORD, "display_name": "Learner"}
            assert (await client.post("/v1/auth/signup", json=body)).status_code == 201
            login = await client.post("/v1/auth/login", data={"username": email, "password": PASSWORD})
            client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            yield client
    finally:
        for process in processes:
            process.kill()


async def _upload(api: httpx.AsyncClient, token_id: UUID, recording: bytes, **params: str) -> dict[str, Any]:
    answer = await api.post(
        f"/v1/tokens/{token_id}/upload-audio", params=params, files={"file": ("take.wav", recording)}
    )
    assert answer.status_code == 202, answer.text
    job: dict[str, Any] = answer.json()
    return job


async def _finished(api: httpx.AsyncClient, job: dict[str, Any]) -> dict[str, Any]:
    async def completed() -> bool:
        return (await api.get(job["links"]["self"])).json()["status"] == "completed"

    await eventually(completed, within=30, interval=0.2, what=f"job {job['id']} completing")
    finished: dict[str, Any] = (await api.get(job["links"]["self"])).json()
    return finished


async def _analysed(
    api: httpx.AsyncClient, token_id: UUID, recording: bytes, **params: str
) -> dict[str, Any]:
    """Upload and wait for the analysis; it must not have been reused."""
    job = await _upload(api, token_id, recording, **params)
    assert job["status"] == "queued"
    finished = await _finished(api, job)
    assert finished["reused_from"] is None
    return finished


def _one_byte_changed(wav: bytes) -> bytes:
    """The same WAV with one sample byte near the end changed (it still decodes, to other bytes)."""
    changed = bytearray(wav)
    changed[-101] ^= 0x01
    return bytes(changed)


async def test_identical_bytes_are_reused_without_dispatch_and_every_change_is_analysed(
    api: httpx.AsyncClient, stub: StubAnalysisServer, container: Container, catalog: Catalog
) -> None:
    recording = tone(1.0)
    first = await _analysed(api, catalog.token_id, recording)

    reused = await _upload(api, catalog.token_id, recording)

    assert (reused["status"], reused["reused_from"]) == ("completed", first["id"])
    assert reused["result"] == first["result"]
    assert reused["result"] is not None
    events = list(sse_events(iter((await api.get(reused["links"]["events"])).text.splitlines())))
    assert [event.event for event in events] == ["queued", "completed"]
    assert events[-1].data["reused_from"] == first["id"]

    changed = await _analysed(api, catalog.token_id, _one_byte_changed(recording))
    fresh = await _analysed(api, catalog.token_id, recording, reuse="false")
    admin = Principal(uuid4(), Role.ADMIN)
    await container.catalog_admin.upload_reference_audio(
        admin, ReferenceKind.TOKEN, catalog.token_id, tone(1.2)
    )
    new_reference = await _analysed(api, catalog.token_id, recording)
    async with container.engine.begin() as connection:  # as if analysed by an older feature configuration
        await connection.execute(text("UPDATE jobs SET feature_version = 'voice-features/0+older'"))
    new_features = await _analysed(api, catalog.token_id, recording)
    again = await _upload(api, catalog.token_id, recording)

    assert again["reused_from"] == new_features["id"]
    analysed = [first, changed, fresh, new_reference, new_features]
    assert {request.job_id for request in stub.requests} == {job["id"] for job in analysed}
    assert stub.deliveries(reused["id"]) == stub.deliveries(again["id"]) == 0
