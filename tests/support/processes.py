"""The service's real processes (``uv run voicepractice worker`` / ``serve``) for tests to start and kill.

Each start runs in its own process group, so a signal reaches uv and the Python process it spawned.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
UV_RUN = ("uv", "run", "--no-sync", "voicepractice")
WORKER_READY_MARKER = "worker started"


class ServiceProcess:
    def __init__(
        self,
        name: str,
        command: Sequence[str],
        env: Mapping[str, str],
        log_dir: Path,
        ready: Callable[[ServiceProcess], bool],
    ) -> None:
        self.name = name
        self._command = tuple(command)
        self._env = {**os.environ, **env}
        self._log_dir = log_dir
        self._ready = ready
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None
        self.starts = 0

    @property
    def pid(self) -> int:
        """The id of the process started (also its process group's: it leads a new session)."""
        if self._process is None:
            raise RuntimeError(f"the {self.name} was never started")
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 60.0) -> None:
        """Start the process and wait until it is ready."""
        if self.running:
            raise RuntimeError(f"the {self.name} is running already")
        self.starts += 1
        self._log_dir.mkdir(parents=True, exist_ok=True)
        self._log_path = self._log_dir / f"{self.name}-{self.starts}.log"
        with self._log_path.open("wb") as log:
            self._process = subprocess.Popen(
                self._command,
                cwd=REPO_ROOT,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not self._ready(self):
            if self._process.poll() is not None:
                raise RuntimeError(f"the {self.name} exited with {self._process.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"the {self.name} was not ready within {timeout} s:\n{self.tail()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs and nothing in flight is finished."""
        self._signal(signal.SIGKILL)
        if self._process is not None:
            self._process.wait(10.0)

    def terminate(self) -> None:
        """SIGTERM, as a process manager stops a service."""
        self._signal(signal.SIGTERM)

    def pause(self) -> None:
        """SIGSTOP to the whole group: connections it accepted wait, unanswered, until ``resume``."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
        self.terminate()
        try:
            self.wait(timeout)
        except (subprocess.TimeoutExpired, RuntimeError):
            self.kill()

    def wait(self, timeout: float) -> int:
        if self._process is None:
            raise RuntimeError(f"the {self.name} was never started")
        return self._process.wait(timeout)

    def log(self) -> str:
        if self._log_path is None or not self._log_path.exists():
            return ""
        return self._log_path.read_text(errors="replace")

    def tail(self, characters: int = 3000) -> str:
        return self.log()[-characters:]

    def _signal(self, signum: signal.Signals) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        # start_new_session made the process we started a group leader: its id is the group's.
        try:
            os.killpg(self._process.pid, signum)
        except ProcessLookupError:
            return


def live_group_members(leader: int) -> list[str]:
    """The ids of the live processes in the process group ``leader`` leads (zombies left out)."""
    listing = subprocess.run(["ps", "-o", "pid=,stat=", "-g", str(leader)], capture_output=True, text=True)
    return [line.split()[0] for line in listing.stdout.splitlines() if "Z" not in line.split()[1]]


def group_gone(leader: int, within: float) -> bool:
    """Whether every process of the group has exited within ``within`` seconds."""
    deadline = time.monotonic() + within
    while live_group_members(leader):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def worker_process(env: Mapping[str, str], log_dir: Path) -> ServiceProcess:
    """The worker is ready once its startup hook ran, which also started the outbox sweep."""
    return ServiceProcess(
        "worker", (*UV_RUN, "worker"), env, log_dir, lambda process: WORKER_READY_MARKER in process.log()
    )


def answers_health(port: int) -> Callable[[ServiceProcess], bool]:
    """Ready once ``GET /health`` on ``port`` answers 200."""

    def healthy(_: ServiceProcess) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    return healthy


def api_environment(database_url: str, redis_url: str, root: Path, **variables: str) -> dict[str, str]:
    """What an API process of a test needs: the test's database and Redis, local storage under ``root``,
    the development secret, and ``variables`` (limits and the like) on top."""
    from entrypoints.settings import Settings

    return {
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STORAGE_BACKEND": "local",
        "LOCAL_STORAGE_DIR": str(root / "storage"),
        "SECRET_KEY": Settings().secret_key,
        "LOG_LEVEL": "WARNING",
        **variables,
    }


def api_process(env: Mapping[str, str], log_dir: Path, port: int) -> ServiceProcess:
    command = (*UV_RUN, "serve", "--port", str(port))
    return ServiceProcess("api", command, env, log_dir, answers_health(port))
