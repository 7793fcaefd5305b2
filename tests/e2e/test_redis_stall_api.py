"""A stalled or stopped Redis must not stall uploads or streams: the whole system on a Redis of its own.

Paused with ``CLIENT PAUSE`` while a user uploads, the upload answers within a second (the enqueue and the
live publish are given up after short timeouts; the outbox row is committed) and the job is relayed and
analysed once Redis is back. Stopped, an SSE stream still delivers every event, read from Postgres."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from adapters.persistence import migrations
from tests.support.full_system import System, running_system
from tests.support.redis_server import RedisServer, private_redis

pytestmark = pytest.mark.slow

LINE = "Keep your eyes on the road."
# CLIENT UNPAUSE is itself held while paused for ALL: the pause simply runs out.
PAUSE_MILLISECONDS = 6_000


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: Any) -> Path:
    path: Path = tmp_path_factory.mktemp("redis-stall")
    return path


@pytest.fixture(scope="module")
def redis_server(workdir: Path) -> Iterator[RedisServer]:
    with private_redis(workdir) as server:
        yield server


@pytest.fixture(scope="module")
def system(
    empty_database_factory: Callable[[], str], redis_server: RedisServer, workdir: Path
) -> Iterator[System]:
    database_url = empty_database_factory()
    migrations.upgrade(database_url)
    with running_system(database_url, redis_server.url, workdir) as running:
        yield running


@pytest.fixture(scope="module")
def practice(system: System) -> tuple[str, dict[str, str], bytes]:
    """A token with reference audio, a signed-in learner, and a recording of the line."""
    return system.practice_token(LINE, "paused@example.com")


def test_an_upload_answers_without_waiting_for_a_paused_redis_and_is_analysed_after(
    system: System, practice: tuple[str, dict[str, str], bytes]
) -> None:
    token_id, user, audio = practice

    with redis.Redis.from_url(system.env["REDIS_URL"], socket_timeout=5.0) as control:
        control.execute_command("CLIENT", "PAUSE", PAUSE_MILLISECONDS, "ALL")
    started = time.monotonic()
    answer = httpx.post(
        f"{system.api_url}/v1/tokens/{token_id}/upload-audio",
        files={"file": ("take.wav", audio)},
        headers=user,
        timeout=PAUSE_MILLISECONDS / 1000 * 2,
    )
    answered_in = time.monotonic() - started

    assert answer.status_code == 202, answer.text
    # Bounded by the enqueue timeout (0.3 s), not by the pause: an upload waiting on Redis takes the whole
    # pause (5.1 s before the bound). Half the pause tells the two apart even on a loaded machine.
    assert answered_in < PAUSE_MILLISECONDS / 1000 / 2, (
        f"the upload took {answered_in:.2f} s with Redis paused\n{system.logs()}"
    )
    job_id = answer.json()["id"]
    # Followed through Postgres (GET /jobs/{id}): live streams need Redis, which is the point here.
    deadline = time.monotonic() + 60.0
    while (status := system.job(user, job_id)["status"]) not in {"completed", "failed"}:
        assert time.monotonic() < deadline, f"still {status} a minute later\n{system.logs()}"
        time.sleep(0.5)
    assert status == "completed", system.logs()


def test_a_stream_delivers_every_event_with_redis_stopped(
    system: System, redis_server: RedisServer, practice: tuple[str, dict[str, str], bytes]
) -> None:
    """docs/sse.md: with the live channel down, a stream follows the job from Postgres to its end."""
    token_id, user, audio = practice
    redis_server.stop()
    try:
        job_id = system.upload(user, "tokens", token_id, audio, "take.wav")
        events = system.follow(user, job_id, timeout=90.0)
    finally:
        redis_server.start()

    assert events[0].event == "queued"
    assert events[-1].event == "completed", system.logs()
    assert [int(event.id) for event in events] == list(range(1, len(events) + 1))
