"""A stalled Redis must not stall uploads: the whole system on a Redis of its own, paused with
``CLIENT PAUSE`` while a user uploads. The upload answers within a second (the enqueue is given up after a
short timeout; the outbox row is committed) and the job is relayed and analysed once Redis is back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from adapters.persistence import migrations
from tests.support.encoding import encode_audio
from tests.support.full_system import System
from tests.support.redis_server import private_redis
from tests.support.speech import synthesize

pytestmark = pytest.mark.slow

LINE = "Keep your eyes on the road."
# CLIENT UNPAUSE is itself held while paused for ALL: the pause simply runs out.
PAUSE_MILLISECONDS = 6_000


@pytest.fixture(scope="module")
def system(empty_database_factory: Callable[[], str], tmp_path_factory: Any) -> Iterator[System]:
    database_url = empty_database_factory()
    migrations.upgrade(database_url)
    workdir: Path = tmp_path_factory.mktemp("redis-stall")
    with private_redis(workdir) as redis_url:
        running = System.configure(database_url, redis_url, workdir)
        try:
            running.start()
            yield running
        finally:
            running.stop()


def test_an_upload_answers_within_a_second_while_redis_is_paused_and_is_analysed_after(
    system: System,
) -> None:
    speech = synthesize(LINE)
    audio = encode_audio(speech.samples, speech.sample_rate, "wav")
    admin = system.create_admin()
    token_id = system.create_reference(admin, "tokens", LINE, speech.word_timings(), audio, "ref.wav")
    user = system.sign_up("paused@example.com")

    with redis.Redis.from_url(system.env["REDIS_URL"], socket_timeout=5.0) as control:
        control.execute_command("CLIENT", "PAUSE", PAUSE_MILLISECONDS, "ALL")
    started = time.monotonic()
    answer = httpx.post(
        f"{system.api_url}/tokens/{token_id}/upload-audio",
        files={"file": ("take.wav", audio)},
        headers=user,
        timeout=PAUSE_MILLISECONDS / 1000 * 2,
    )
    answered_in = time.monotonic() - started

    assert answer.status_code == 202, answer.text
    assert answered_in < 1.0, f"the upload took {answered_in:.2f} s with Redis paused\n{system.logs()}"
    job_id = answer.json()["id"]
    # Followed through Postgres (GET /jobs/{id}): live streams need Redis, which is the point here.
    deadline = time.monotonic() + 60.0
    while (status := system.job(user, job_id)["status"]) not in {"completed", "failed"}:
        assert time.monotonic() < deadline, f"still {status} a minute later\n{system.logs()}"
        time.sleep(0.5)
    assert status == "completed", system.logs()
