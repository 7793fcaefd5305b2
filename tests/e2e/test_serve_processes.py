"""`serve --workers 2` (as the Dockerfile and fly.toml run the API) imports and builds the app once and
forks the processes that serve it (entrypoints/http/serving.py): both answer on the one port, a process
that dies is replaced, SIGTERM stops them all, and the port listens from the start, so a client that
connects while the app is still being imported is answered rather than refused."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.full_system import free_port
from tests.support.processes import UV_RUN, ServiceProcess, api_environment, api_process

READY_LOG = "Application startup complete"


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent id, process group) of a process, None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return fields[0], int(fields[1]), int(fields[2])


def _serving_processes(group: int) -> set[int]:
    """The forked API processes: members of the group whose parent is a member other than its leader
    (uv, which runs the supervising `voicepractice serve`)."""
    members = {}
    for entry in os.listdir("/proc"):
        if (
            entry.isdigit()
            and (stat := _stat(int(entry))) is not None
            and stat[2] == group
            and stat[0] != "Z"
        ):
            members[int(entry)] = stat[1]
    return {pid for pid, parent in members.items() if parent in members and parent != group}


def _wait_for_processes(group: int, count: int, timeout: float = 120.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while len(found := _serving_processes(group)) != count:
        assert time.monotonic() < deadline, f"serving processes: {found}"
        time.sleep(0.05)
    return found


def _health(base_url: str, timeout: float = 60.0) -> int:
    # A new connection each time: the kernel hands it to whichever process accepts first.
    with httpx.Client(base_url=base_url, timeout=timeout) as client:
        return client.get("/health").status_code


@pytest.fixture
def two_processes(
    clean_database: str, redis_url: str, tmp_path: Path
) -> Iterator[tuple[ServiceProcess, str]]:
    port = free_port()
    environment = api_environment(clean_database, redis_url, tmp_path, WEB_CONCURRENCY="2")
    process = api_process(environment, tmp_path / "logs", port)
    process.start(timeout=300.0)
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        process.stop(timeout=40.0)


def test_each_forked_process_answers_on_the_shared_port(two_processes: tuple[ServiceProcess, str]) -> None:
    process, base_url = two_processes
    first, second = sorted(_wait_for_processes(process.pid, 2))

    # With one process stopped, only the other can accept the connection.
    for paused, serving in ((first, second), (second, first)):
        os.kill(paused, signal.SIGSTOP)
        try:
            assert _health(base_url) == 200, f"process {serving} alone"
        finally:
            os.kill(paused, signal.SIGCONT)


def test_a_killed_process_is_replaced_and_sigterm_stops_them_all(
    two_processes: tuple[ServiceProcess, str],
) -> None:
    process, base_url = two_processes
    before = _wait_for_processes(process.pid, 2)
    victim = min(before)

    os.kill(victim, signal.SIGKILL)

    deadline = time.monotonic() + 30.0
    while victim in _serving_processes(process.pid):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    after = _wait_for_processes(process.pid, 2)
    assert victim not in after
    assert len(after & before) == 1
    assert _health(base_url) == 200

    process.terminate()
    assert process.wait(60.0) == 0
    assert all(_stat(pid) is None for pid in after)


def test_a_connection_made_while_the_app_is_imported_is_answered(
    clean_database: str, redis_url: str, tmp_path: Path
) -> None:
    port = free_port()
    environment = api_environment(clean_database, redis_url, tmp_path, WEB_CONCURRENCY="2")
    # Started without waiting for /health: connect as soon as the port takes connections.
    command = (*UV_RUN, "serve", "--port", str(port))
    process = ServiceProcess("api", command, environment, tmp_path / "logs", lambda _: True)
    process.start()
    try:
        deadline = time.monotonic() + 60.0
        while True:
            assert process.running, process.tail()
            try:
                connection = socket.create_connection(("127.0.0.1", port), timeout=1.0)
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "the port never listened"
                time.sleep(0.01)
        assert READY_LOG not in process.log()  # connected before the app was ready
        with connection:
            connection.settimeout(120.0)
            connection.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    finally:
        process.stop(timeout=40.0)
