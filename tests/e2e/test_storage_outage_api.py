"""Object storage stopped or stalled (moto's S3 server, then a port that accepts and never answers):
an upload answers 503 with Retry-After naming storage within seconds, and no job is created."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from moto.server import ThreadedMotoServer

from adapters.storage.s3 import S3ObjectStorage, S3StorageConfig
from entrypoints.bootstrap import Container, build_container
from entrypoints.settings import Settings
from tests.e2e.conftest import SignUp, tone

# The adapter's bound (operation_timeout_seconds) plus the request's own work.
ANSWER_WITHIN_SECONDS = 10.0


class Moto:
    """moto's S3 server on a port that stays ours after a stop, so it can stall there too."""

    def __init__(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.running = True
        self._stall: socket.socket | None = None

    def stop(self) -> None:
        if self.running:
            self._server.stop()
            self.running = False

    def stall(self) -> None:
        """Stopped, and the port taken by a socket that accepts connections (the kernel's backlog) and
        never answers: what a hung or overloaded store looks like to a client."""
        self.stop()
        self._stall = socket.socket()
        self._stall.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._stall.bind(("127.0.0.1", self.port))
        self._stall.listen(64)

    def close(self) -> None:
        self.stop()
        if self._stall is not None:
            self._stall.close()


@pytest.fixture
def moto() -> Iterator[Moto]:
    server = Moto()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def container(settings: Settings, moto: Moto) -> AsyncIterator[Container]:
    """The real composition root with S3 storage on the test's own moto server."""
    storage = S3ObjectStorage(
        S3StorageConfig(
            bucket="recordings",
            endpoint_url=moto.endpoint,
            access_key_id="testing",
            secret_access_key="testing",
            addressing_style="path",
        )
    )
    await storage.start()
    await storage.ensure_bucket()
    built = await build_container(settings, storage=storage)
    yield built
    await built.close()


async def _job_count(client: httpx.AsyncClient, user: dict[str, str]) -> int:
    listed = await client.get("/v1/jobs", headers=user)
    assert listed.status_code == 200, listed.text
    total: int = listed.json()["total"]
    return total


@pytest.mark.parametrize("outage", ["stopped", "stalled"])
async def test_an_upload_while_storage_is_down_is_a_quick_503_and_creates_no_job(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any], moto: Moto, outage: str
) -> None:
    user = await sign_up()
    moto.stop() if outage == "stopped" else moto.stall()

    started = time.monotonic()
    answer = await client.post(
        f"/v1/tokens/{reference_token['id']}/upload-audio",
        files={"file": ("take.wav", tone(1.0))},
        headers=user,
        timeout=60.0,
    )
    answered_in = time.monotonic() - started

    assert answer.status_code == 503, answer.text
    assert answer.json()["type"] == "/problems/dependency-unavailable"
    assert answer.json()["dependency"] == "storage"
    assert int(answer.headers["Retry-After"]) > 0
    assert answered_in < ANSWER_WITHIN_SECONDS
    assert await _job_count(client, user) == 0
