"""Two real API processes share one catalog cache: an admin write through one is what the other serves
on the very next read, with no wait and nothing stale."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from adapters.persistence import migrations
from tests.support.full_system import free_port
from tests.support.processes import REPO_ROOT, UV_RUN, ServiceProcess, api_environment, api_process
from tests.support.recordings import tone

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin password 123"


@dataclass(frozen=True)
class Instances:
    writer: httpx.Client  # admin writes go through this process
    reader: httpx.Client  # reads through the other


@pytest.fixture(scope="module")
def instances(
    empty_database_factory: Callable[[], str], redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Instances]:
    """Two API processes on a database of their own, sharing Redis under one queue name, and an admin."""
    database_url = empty_database_factory()
    migrations.upgrade(database_url)
    root = tmp_path_factory.mktemp("instances")
    environment = api_environment(
        database_url, redis_url, root, SAQ_QUEUE_NAME=f"inst-{uuid.uuid4().hex[:8]}"
    )
    subprocess.run(
        (*UV_RUN, "create-admin", "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD),
        cwd=REPO_ROOT,
        env={**os.environ, **environment},
        check=True,
        capture_output=True,
        timeout=120,
    )
    ports = free_port(), free_port()
    processes: list[ServiceProcess] = [
        api_process(environment, root / f"logs-{port}", port) for port in ports
    ]
    try:
        for process in processes:
            process.start(timeout=90.0)
        with (
            httpx.Client(base_url=f"http://127.0.0.1:{ports[0]}", timeout=30.0) as writer,
            httpx.Client(base_url=f"http://127.0.0.1:{ports[1]}", timeout=30.0) as reader,
        ):
            login = writer.post("/v1/auth/login", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
            assert login.status_code == 200, login.text
            writer.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            yield Instances(writer, reader)
    finally:
        for process in processes:
            process.stop()


def test_a_write_through_one_instance_is_read_at_once_through_the_other(instances: Instances) -> None:
    writer, reader = instances.writer, instances.reader
    before = reader.get("/v1/actors")  # cached by the reader's process (and shared through Redis)
    assert before.json()["items"] == []

    actor = writer.post("/v1/actors", json={"name": "Ada"}).json()
    listed = reader.get("/v1/actors", headers={"If-None-Match": before.headers["etag"]})
    assert listed.status_code == 200
    assert [a["name"] for a in listed.json()["items"]] == ["Ada"]

    assert reader.get(f"/v1/actors/{actor['id']}").json()["name"] == "Ada"
    assert writer.put(f"/v1/actors/{actor['id']}", json={"name": "Grace"}).status_code == 200
    assert reader.get(f"/v1/actors/{actor['id']}").json()["name"] == "Grace"

    # Word timings given: a tone holds no speech to align the text to (that would be a 422).
    words = [
        {"index": 0, "text": "Hi", "start": 0.0, "end": 0.4},
        {"index": 1, "text": "there", "start": 0.5, "end": 0.9},
    ]
    token = writer.post(
        "/v1/tokens",
        json={"actor_id": actor["id"], "movie_title": "Film", "text": "Hi there", "words": words},
    )
    token_id = token.json()["id"]
    assert [t["id"] for t in reader.get("/v1/tokens?limit=20").json()["items"]] == [token_id]
    assert reader.get(f"/v1/tokens/{token_id}").json()["reference_audio"] is None

    uploaded = writer.put(f"/v1/tokens/{token_id}/reference-audio", files={"file": ("ref.wav", tone(1.0))})
    assert uploaded.status_code == 200, uploaded.text
    assert reader.get(f"/v1/tokens/{token_id}").json()["reference_audio"] is not None

    assert writer.delete(f"/v1/tokens/{token_id}").status_code == 204
    assert reader.get(f"/v1/tokens/{token_id}").status_code == 404
    assert reader.get("/v1/tokens?limit=20").json()["items"] == []
