"""Fixtures for the object storage adapters: moto's S3 server over real HTTP, and the local store."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from moto.server import ThreadedMotoServer

from adapters.storage.local import LocalObjectStorage
from adapters.storage.s3 import S3ObjectStorage, S3StorageConfig
from application.ports.storage import ObjectStorage
from entrypoints.http.storage_routes import build_local_storage_router

LOCAL_PUBLIC_BASE_URL = "http://api.storage.test"
LOCAL_SIGNING_SECRET = "test-storage-signing-secret-0123456789"
LOCAL_MAX_UPLOAD_BYTES = 64 * 1024


class FakeClock:
    """Starts at the real time so URLs compare with wall clocks; moves only when told to."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True, slots=True)
class StoreUnderTest:
    """A store and an HTTP client that can reach the URLs it presigns."""

    storage: ObjectStorage
    http: httpx.AsyncClient


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """Endpoint URL of a moto S3 server running in a thread on a free port for the whole session."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_config(moto_server: str) -> S3StorageConfig:
    return S3StorageConfig(
        bucket=f"test-{uuid4().hex}",
        region="eu-west-1",
        endpoint_url=moto_server,
        access_key_id="testing",
        secret_access_key="testing",
        addressing_style="path",
        max_attempts=1,
    )


@pytest.fixture
async def s3_storage(s3_config: S3StorageConfig) -> AsyncIterator[S3ObjectStorage]:
    async with S3ObjectStorage(s3_config) as storage:
        await storage.ensure_bucket()
        yield storage


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def local_storage(tmp_path: Path, clock: FakeClock) -> LocalObjectStorage:
    return LocalObjectStorage(
        tmp_path / "store",
        public_base_url=LOCAL_PUBLIC_BASE_URL,
        signing_secret=LOCAL_SIGNING_SECRET,
        max_upload_bytes=LOCAL_MAX_UPLOAD_BYTES,
        clock=clock,
    )


@pytest.fixture
async def local_http(local_storage: LocalObjectStorage) -> AsyncIterator[httpx.AsyncClient]:
    """A client for a tiny app that serves only the local store's routes."""
    app = Litestar(route_handlers=[build_local_storage_router(local_storage)])
    async with AsyncTestClient(app=app, base_url=LOCAL_PUBLIC_BASE_URL) as client:
        yield client


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> StoreUnderTest:
    if request.param == "local":
        storage: ObjectStorage = request.getfixturevalue("local_storage")
        http: httpx.AsyncClient = request.getfixturevalue("local_http")
    else:
        storage = request.getfixturevalue("s3_storage")
        http = request.getfixturevalue("plain_http")
    return StoreUnderTest(storage=storage, http=http)


@pytest.fixture
async def plain_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client
