"""The commands fly.toml and the Dockerfile run, started here the same way: ``uv run`` + the command.

A fresh database is migrated by the release command; the API and the worker must come up against it
and stop on SIGTERM within a bound, as Fly stops machines.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.persistence.migrations import alembic_config
from tests.support.deployment import DeploymentCommand, fly_commands, fly_config, resolve, with_option
from tests.support.network import accepts_connections, outward_address
from tests.support.processes import REPO_ROOT, ServiceProcess, answers_health

pytestmark = pytest.mark.slow

START_TIMEOUT_SECONDS = 60.0
# Fly sends SIGKILL kill_timeout seconds after SIGTERM; a process must be gone before, with a margin.
STOP_TIMEOUT_SECONDS = float(fly_config()["kill_timeout"]) - 5
UV_RUN = ("uv", "run", "--no-sync")
# The SAQ queue's name is fixed, and other tests leave relay jobs in it on the shared Redis; a database
# of their own keeps these processes from picking those up (and from taking jobs of concurrent tests).
REDIS_DATABASE = 14


def _own_redis_database(redis_url: str) -> str:
    return urlunsplit(urlsplit(redis_url)._replace(path=f"/{REDIS_DATABASE}"))


def _fly(role: str) -> DeploymentCommand:
    return next(command for command in fly_commands() if command.role == role)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def migrated_by_release_command(empty_database_factory: Callable[[], str], redis_url: str) -> str:
    url = empty_database_factory()
    release = _fly("release_command")
    completed = subprocess.run(
        (*UV_RUN, *release.argv),
        cwd=REPO_ROOT,
        env={**os.environ, "APP_ENV": "test", "DATABASE_URL": url, "REDIS_URL": redis_url},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    return url


@pytest.fixture
def environment(migrated_by_release_command: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "APP_ENV": "test",
        "DATABASE_URL": migrated_by_release_command,
        "REDIS_URL": _own_redis_database(redis_url),
        "LOCAL_STORAGE_DIR": str(tmp_path / "storage"),
        "WORKER_METRICS_PORT": str(_free_port()),
        "ANALYSIS_SERVER_AUTH_TOKEN": "deployment-test-bearer-token-0123456789",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
    }


@pytest.fixture
def processes() -> Iterator[list[ServiceProcess]]:
    started: list[ServiceProcess] = []
    yield started
    for process in started:
        process.kill()


def _stopped_within(process: ServiceProcess, seconds: float) -> bool:
    process.terminate()
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


async def test_the_release_command_migrates_a_fresh_database_to_head(
    migrated_by_release_command: str,
) -> None:
    head = ScriptDirectory.from_config(alembic_config(migrated_by_release_command)).get_current_head()
    engine = create_async_engine(migrated_by_release_command)
    try:
        async with engine.connect() as connection:
            revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    finally:
        await engine.dispose()
    assert revision == head


def _api(
    environment: dict[str, str], tmp_path: Path, processes: list[ServiceProcess]
) -> tuple[ServiceProcess, int]:
    port = _free_port()
    argv = with_option(with_option(_fly("app").argv, "--host", "127.0.0.1"), "--port", str(port))
    process = ServiceProcess("api", (*UV_RUN, *argv), environment, tmp_path / "logs", answers_health(port))
    processes.append(process)
    process.start(START_TIMEOUT_SECONDS)
    return process, port


def test_the_api_command_comes_up_and_answers_health(
    environment: dict[str, str], tmp_path: Path, processes: list[ServiceProcess]
) -> None:
    _, port = _api(environment, tmp_path, processes)
    assert httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5.0).status_code == 200


def test_the_api_command_stops_gracefully_on_sigterm(
    environment: dict[str, str], tmp_path: Path, processes: list[ServiceProcess]
) -> None:
    process, _ = _api(environment, tmp_path, processes)
    assert _stopped_within(process, STOP_TIMEOUT_SECONDS), process.tail()
    assert "Finished server process" in process.log()


def _worker(environment: dict[str, str], tmp_path: Path, processes: list[ServiceProcess]) -> ServiceProcess:
    argv = _fly("worker").argv
    process = ServiceProcess(
        "worker", (*UV_RUN, *argv), environment, tmp_path / "logs", lambda p: "worker started" in p.log()
    )
    processes.append(process)
    process.start(START_TIMEOUT_SECONDS)
    return process


def test_the_worker_command_comes_up(
    environment: dict[str, str], tmp_path: Path, processes: list[ServiceProcess]
) -> None:
    assert _worker(environment, tmp_path, processes).running


def test_the_worker_command_stops_gracefully_on_sigterm(
    environment: dict[str, str], tmp_path: Path, processes: list[ServiceProcess]
) -> None:
    process = _worker(environment, tmp_path, processes)
    assert _stopped_within(process, STOP_TIMEOUT_SECONDS), process.tail()
    assert "worker stopped" in process.log()


def test_the_worker_command_serves_its_metrics(
    environment: dict[str, str], tmp_path: Path, processes: list[ServiceProcess]
) -> None:
    import entrypoints.worker

    if not hasattr(entrypoints.worker, "WorkerMetricsServer"):
        pytest.skip("worker.py does not start the WorkerMetricsServer yet (its hook is pending)")
    _worker(environment, tmp_path, processes)
    response = httpx.get(f"http://127.0.0.1:{environment['WORKER_METRICS_PORT']}/metrics", timeout=5.0)
    assert "voicepractice_relay_attempts_total" in response.text
    outward = outward_address()
    if outward is not None:  # WORKER_METRICS_HOST is unset: loopback only
        assert not accepts_connections(outward, int(environment["WORKER_METRICS_PORT"]))


def test_the_optional_analysis_command_comes_up(
    environment: dict[str, str], tmp_path: Path, processes: list[ServiceProcess]
) -> None:
    command = _fly("analysis")
    if resolve(command.argv) is None:
        pytest.skip("`voicepractice analysis-server` is not in the CLI yet (another change adds it)")
    port = _free_port()
    argv = with_option(with_option(command.argv, "--host", "127.0.0.1"), "--port", str(port))

    def listening(_: ServiceProcess) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    process = ServiceProcess("analysis", (*UV_RUN, *argv), environment, tmp_path / "logs", listening)
    processes.append(process)
    process.start(START_TIMEOUT_SECONDS)
    assert _stopped_within(process, STOP_TIMEOUT_SECONDS), process.tail()


def test_the_analysis_command_refuses_to_start_without_a_bearer_token(environment: dict[str, str]) -> None:
    argv = with_option(with_option(_fly("analysis").argv, "--host", "127.0.0.1"), "--port", str(_free_port()))
    env = {**os.environ, **environment}
    env.pop("ANALYSIS_SERVER_AUTH_TOKEN")

    completed = subprocess.run((*UV_RUN, *argv), env=env, capture_output=True, timeout=60, check=False)

    assert completed.returncode != 0
    assert b"ANALYSIS_SERVER_AUTH_TOKEN" in completed.stderr
