"""The whole system as ``make run`` starts it, for end-to-end tests and benchmarks.

The API (``voicepractice serve``), the worker and the reference analysis server run as real processes
against a migrated database, with local storage; ``System`` drives them over HTTP as a client would.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from tests.support.encoding import encode_audio
from tests.support.processes import (
    REPO_ROOT,
    UV_RUN,
    ServiceProcess,
    answers_health,
    api_process,
    worker_process,
)
from tests.support.speech import synthesize

TERMINAL_EVENTS = ("completed", "failed", "cancelled")
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin password 123"
USER_PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def own_redis_database(redis_url: str, database: int) -> str:
    """The SAQ queue's name is fixed: a database of its own keeps other tests' workers off our jobs."""
    return urlunsplit(urlsplit(redis_url)._replace(path=f"/{database}"))


def analysis_server_process(env: Mapping[str, str], log_dir: Path, port: int) -> ServiceProcess:
    command = (*UV_RUN, "analysis-server", "--port", str(port))
    return ServiceProcess("analysis", command, env, log_dir, answers_health(port))


@dataclass(frozen=True, slots=True)
class SseEvent:
    id: str
    event: str
    data: dict[str, Any]


def sse_events(lines: Iterator[str]) -> Iterator[SseEvent]:
    """Messages of a ``text/event-stream``; comments (heartbeats) and ``retry:`` hints are skipped."""
    fields: dict[str, str] = {}
    for line in lines:
        if not line:
            if "data" in fields:
                yield SseEvent(
                    fields.get("id", ""), fields.get("event", "message"), json.loads(fields["data"])
                )
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


@dataclass
class System:
    env: dict[str, str]
    log_dir: Path
    api_port: int = field(default_factory=free_port)
    analysis_port: int = field(default_factory=free_port)
    processes: list[ServiceProcess] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @classmethod
    def configure(cls, database_url: str, redis_url: str, workdir: Path, **extra: str) -> System:
        system = cls(env={}, log_dir=workdir / "logs")
        system.env = {
            "APP_ENV": "test",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "PUBLIC_BASE_URL": system.api_url,
            "ANALYSIS_TOKEN_SERVER_URL": f"http://127.0.0.1:{system.analysis_port}",
            "ANALYSIS_SCRIPT_SERVER_URL": f"http://127.0.0.1:{system.analysis_port}",
            "LOCAL_STORAGE_DIR": str(workdir / "storage"),
            "ANALYSIS_SERVER_AUTH_TOKEN": "full-system-bearer-token-0123456789abcdef",
            "ANALYSIS_SERVER_ALLOWED_HOSTS": "127.0.0.1",
            "ANALYSIS_SERVER_ALLOWED_PRIVATE_NETWORKS": "127.0.0.0/8",
            "WORKER_METRICS_PORT": "0",
            "UPLOAD_RATE_LIMIT": "off",
            "LOGIN_RATE_LIMIT_PER_ACCOUNT": "off",
            "LOGIN_RATE_LIMIT_PER_ADDRESS": "off",
            "SIGN_UP_RATE_LIMIT_PER_ADDRESS": "off",
            "LOG_LEVEL": "INFO",  # the worker counts as ready once it logs that it started
            "LOG_FORMAT": "json",
            **extra,
        }
        return system

    def start(self, timeout: float = 120.0) -> None:
        """Start the three processes side by side and wait until each is ready."""
        self.processes = [
            api_process(self.env, self.log_dir, self.api_port),
            worker_process(self.env, self.log_dir),
            analysis_server_process(self.env, self.log_dir, self.analysis_port),
        ]
        with ThreadPoolExecutor(len(self.processes)) as pool:
            for started in [pool.submit(process.start, timeout) for process in self.processes]:
                started.result()

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(30.0)
            except subprocess.TimeoutExpired:
                process.kill()
            except RuntimeError:  # it never started
                continue

    @property
    def api(self) -> ServiceProcess:
        return self.processes[0]

    @property
    def worker(self) -> ServiceProcess:
        return self.processes[1]

    @property
    def analysis_server(self) -> ServiceProcess:
        return self.processes[2]

    def logs(self) -> str:
        return "\n".join(f"--- {process.name}\n{process.tail()}" for process in self.processes)

    # -- a client's view ----------------------------------------------------------------------------

    def cli(self, *arguments: str) -> None:
        """Run ``voicepractice <arguments>`` against this system, as an operator would."""
        subprocess.run(
            (*UV_RUN, *arguments),
            cwd=REPO_ROOT,
            env={**os.environ, **self.env},
            check=True,
            capture_output=True,
            timeout=120,
        )

    def create_admin(self) -> dict[str, str]:
        """The CLI's create-admin, then a login; returns the Authorization header."""
        self.cli("create-admin", "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD)
        return self.log_in(ADMIN_EMAIL, ADMIN_PASSWORD)

    def sign_up(self, email: str) -> dict[str, str]:
        body = {"email": email, "password": USER_PASSWORD, "display_name": "Learner"}
        created = httpx.post(f"{self.api_url}/v1/auth/signup", json=body, timeout=10.0)
        assert created.status_code == 201, created.text
        return self.log_in(email, USER_PASSWORD)

    def log_in(self, email: str, password: str) -> dict[str, str]:
        answer = httpx.post(
            f"{self.api_url}/v1/auth/login", data={"username": email, "password": password}, timeout=10.0
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def create_reference(
        self,
        admin: dict[str, str],
        kind: str,
        text: str,
        words: list[dict[str, Any]],
        audio: bytes,
        filename: str,
    ) -> str:
        """A token (kind "tokens") or script ("scripts") with its reference audio; returns its id."""
        with httpx.Client(base_url=self.api_url, headers=admin, timeout=30.0) as client:
            if kind == "tokens":
                actor = client.post("/v1/actors", json={"name": "Reference Actor"})
                assert actor.status_code == 201, actor.text
                body: dict[str, Any] = {"actor_id": actor.json()["id"], "movie_title": "Film", "text": text}
            else:
                body = {"title": "Reading", "text": text}
            created = client.post(f"/v1/{kind}", json={**body, "words": words})
            assert created.status_code == 201, created.text
            reference_id: str = created.json()["id"]
            uploaded = client.put(
                f"/v1/{kind}/{reference_id}/reference-audio", files={"file": (filename, audio)}
            )
            assert uploaded.status_code == 200, uploaded.text
        return reference_id

    def practice_token(self, line: str, email: str) -> tuple[str, dict[str, str], bytes]:
        """A token of ``line`` with synthesized reference audio, a signed-in learner, and a recording."""
        speech = synthesize(line)
        audio = encode_audio(speech.samples, speech.sample_rate, "wav")
        admin = self.create_admin()
        token_id = self.create_reference(admin, "tokens", line, speech.word_timings(), audio, "ref.wav")
        return token_id, self.sign_up(email), audio

    def upload(
        self,
        user: dict[str, str],
        kind: str,
        reference_id: str,
        audio: bytes,
        filename: str,
        *,
        reuse: bool = False,
    ) -> str:
        """Upload a recording; returns the job id.

        Asks for a fresh analysis unless ``reuse``: these tests drive the pipeline, and the same bytes uploaded
        again by the same user would otherwise complete from the earlier result without a dispatch.
        """
        answer = httpx.post(
            f"{self.api_url}/v1/{kind}/{reference_id}/upload-audio",
            params={"reuse": "true" if reuse else "false"},
            files={"file": (filename, audio)},
            headers=user,
            timeout=30.0,
        )
        assert answer.status_code == 202, answer.text
        job_id: str = answer.json()["id"]
        return job_id

    def follow(self, user: dict[str, str], job_id: str, timeout: float = 60.0) -> list[SseEvent]:
        """Every event of the job over SSE, up to and including the terminal one."""
        events: list[SseEvent] = []
        url = f"{self.api_url}/v1/jobs/{job_id}/events"
        with httpx.stream("GET", url, headers=user, timeout=timeout) as response:
            assert response.status_code == 200, response.read().decode(errors="replace")
            for event in sse_events(response.iter_lines()):
                events.append(event)
                if event.event in TERMINAL_EVENTS:
                    break
        return events

    def job(self, user: dict[str, str], job_id: str) -> dict[str, Any]:
        answer = httpx.get(f"{self.api_url}/v1/jobs/{job_id}", headers=user, timeout=10.0)
        assert answer.status_code == 200, answer.text
        job: dict[str, Any] = answer.json()
        return job


@contextmanager
def running_system(database_url: str, redis_url: str, workdir: Path, **extra: str) -> Iterator[System]:
    """The whole system on a migrated database, started, and stopped at the end."""
    system = System.configure(database_url, redis_url, workdir, **extra)
    try:
        system.start()
        yield system
    finally:
        system.stop()
