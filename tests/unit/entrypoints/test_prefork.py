"""`serve --workers N` forks its processes from one that imported the app (entrypoints/http/serving.py):
each child serves until told to stop, a child that dies is replaced, SIGTERM reaches every child and
the parent waits for them (killing one that outlives the grace period), and each exit is reported.

The supervisor runs in a fresh interpreter (it forks; the test process must not), its children
standing in for uvicorn servers: each writes its pid to a file and waits for SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SUPERVISOR = textwrap.dedent(
    """
    import os, signal, sys, time
    from pathlib import Path
    from entrypoints.http.serving import Prefork

    root = Path(sys.argv[1])
    ignore_sigterm = sys.argv[2] == "stubborn"

    def serve() -> int:
        stop = []
        if ignore_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        else:
            signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        (root / f"child-{os.getpid()}").write_text("")
        while not stop:
            time.sleep(0.02)
        (root / f"stopped-{os.getpid()}").write_text("")
        return 0

    def exited(pid: int) -> None:
        (root / f"exited-{pid}").write_text("")

    code = Prefork(serve, 2, grace_seconds=float(sys.argv[3]), on_child_exit=exited).run()
    (root / "parent-done").write_text(str(code))
    """
)


def _pids(root: Path, prefix: str) -> set[int]:
    return {int(path.name.split("-")[1]) for path in root.glob(f"{prefix}-*")}


def _wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes: its parent has not reaped it yet.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _start(root: Path, mode: str = "polite", grace: float = 10.0) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, str(root), mode, str(grace)], start_new_session=True
    )


@pytest.fixture
def cleanup() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        # The whole group: children outlive a parent that was killed alone if the test failed.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def test_it_forks_the_processes_asked_for(tmp_path: Path, cleanup: list[subprocess.Popen[bytes]]) -> None:
    parent = _start(tmp_path)
    cleanup.append(parent)

    _wait_for(lambda: len(_pids(tmp_path, "child")) == 2)
    for pid in _pids(tmp_path, "child"):
        with open(f"/proc/{pid}/stat") as stat:
            assert int(stat.read().rsplit(")", 1)[1].split()[1]) == parent.pid  # forked by it


def test_a_child_that_dies_is_replaced(tmp_path: Path, cleanup: list[subprocess.Popen[bytes]]) -> None:
    parent = _start(tmp_path)
    cleanup.append(parent)
    _wait_for(lambda: len(_pids(tmp_path, "child")) == 2)
    victim = min(_pids(tmp_path, "child"))

    os.kill(victim, signal.SIGKILL)

    _wait_for(lambda: len(_pids(tmp_path, "child")) == 3)
    _wait_for(lambda: victim in _pids(tmp_path, "exited"))
    assert sum(_alive(pid) for pid in _pids(tmp_path, "child")) == 2


def test_sigterm_stops_every_child_before_the_parent_exits(
    tmp_path: Path, cleanup: list[subprocess.Popen[bytes]]
) -> None:
    parent = _start(tmp_path)
    cleanup.append(parent)
    _wait_for(lambda: len(_pids(tmp_path, "child")) == 2)

    parent.send_signal(signal.SIGTERM)

    assert parent.wait(30) == 0
    children = _pids(tmp_path, "child")
    assert _pids(tmp_path, "stopped") == children  # each ran its own shutdown
    assert _pids(tmp_path, "exited") == children
    assert not any(_alive(pid) for pid in children)
    assert len(children) == 2  # none replaced while stopping


def test_a_child_outliving_the_grace_period_is_killed(
    tmp_path: Path, cleanup: list[subprocess.Popen[bytes]]
) -> None:
    parent = _start(tmp_path, "stubborn", grace=0.5)
    cleanup.append(parent)
    _wait_for(lambda: len(_pids(tmp_path, "child")) == 2)

    parent.send_signal(signal.SIGTERM)

    assert parent.wait(30) == 0
    assert not any(_alive(pid) for pid in _pids(tmp_path, "child"))
    assert _pids(tmp_path, "stopped") == set()


def test_the_children_stop_when_the_parent_is_killed_alone(
    tmp_path: Path, cleanup: list[subprocess.Popen[bytes]]
) -> None:
    parent = _start(tmp_path)
    cleanup.append(parent)
    _wait_for(lambda: len(_pids(tmp_path, "child")) == 2)

    parent.kill()  # SIGKILL to the parent only: it cannot pass anything on

    parent.wait(10)
    _wait_for(lambda: _pids(tmp_path, "stopped") == _pids(tmp_path, "child"))
