"""Postgres stopped for a few seconds under the whole system (a cluster of the test's own): requests answer
503 with Retry-After naming Postgres, never 500, and everything recovers without restarting a process; an
SSE stream open when Postgres stops ends with a `retry:` hint, and resuming it with Last-Event-ID after
recovery delivers every event up to `completed` with no gap."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.persistence import migrations
from shared_kernel.settings import DEV_WEBHOOK_SECRET
from shared_kernel.webhooks import WebhookSigner
from tests.support.full_system import TERMINAL_EVENTS, SseEvent, System, running_system, sse_events
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
        # Heartbeats every second: a quiet stream reads Postgres that often, so the outage reaches it.
        running_system(postgres.url, redis_server.url, workdir, SSE_HEARTBEAT_SECONDS="1") as running,
    ):
        yield running


@dataclass
class OpenStream:
    """A job's event stream read on a thread: its events, and the comments and retry hints it ended with."""

    system: System
    user: dict[str, str]
    job_id: str
    last_event_id: int = 0
    events: list[SseEvent] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    subscribed: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        headers = {**self.user, "Last-Event-ID": str(self.last_event_id)}
        url = f"{self.system.api_url}/v1/jobs/{self.job_id}/events"
        try:
            with httpx.stream("GET", url, headers=headers, timeout=90.0) as answer:
                assert answer.status_code == 200, answer.read().decode(errors="replace")
                for event in sse_events(self._noting_hints(answer.iter_lines())):
                    self.events.append(event)
                    if event.event in TERMINAL_EVENTS:
                        return
        except BaseException as error:  # handed to the test thread
            self.error = error
        finally:
            self.subscribed.set()

    def _noting_hints(self, lines: Iterator[str]) -> Iterator[str]:
        for line in lines:
            if line.startswith((":", "retry:")):
                self.hints.append(line)
                self.subscribed.set()
            yield line

    def finished(self, timeout: float) -> OpenStream:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the stream neither ended nor reached a terminal event"
        if self.error is not None:
            raise self.error
        return self

    @property
    def open(self) -> bool:
        return self._thread.is_alive()


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
    # The analysis server is held until Postgres has stopped, so the job cannot finish (and its stream
    # end) before the outage begins: with a fast relay it sometimes did.
    analysis_server = system.analysis_server
    analysis_server.pause()
    try:
        before = system.upload(user, "tokens", token_id, audio, "before.wav")
        stream = OpenStream(system, user, before)
        assert stream.subscribed.wait(30.0), system.logs()
        stream_open_at_stop = stream.open
        postgres.stop()
    finally:
        analysis_server.resume()
    try:
        answers = _requests_while_down(system, user, token_id, before, audio)
    finally:
        postgres.start()
    # The first request after recovery succeeds: the pool discards the connections the restart killed.
    first_after = httpx.get(f"{system.api_url}/v1/jobs/{before}", headers=user, timeout=10.0)
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

    # The stream open when Postgres stopped read it at its next heartbeat and ended with a retry hint;
    # resumed from its last id after recovery, it delivers the rest, every id once, up to completed.
    assert stream_open_at_stop, "the job finished before Postgres stopped; the stream saw no outage"
    first = stream.finished(90.0)
    assert first.hints[-2:] == [": postgres unavailable; reconnect", "retry: 5000"], first.hints
    assert first.events, "the stream ended before its first event"
    resumed = OpenStream(system, user, before, last_event_id=int(first.events[-1].id)).finished(90.0)
    events = first.events + resumed.events
    assert [event.id for event in events] == [str(n) for n in range(1, len(events) + 1)], events
    assert events[-1].event == "completed", events
    stored = {path.name.split(".")[0] for path in (workdir / "storage" / "objects" / "recordings").iterdir()}
    assert stored == {before, after}, "a recording was stored without its job, or a job lost its recording"
