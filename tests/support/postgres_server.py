"""A Postgres cluster of a test's own (Debian's ``initdb``/``pg_ctl``), for tests that stop the database
without disturbing every other test sharing the session's server."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.support.full_system import free_port

# Postgres refuses to run as root; a root test run (a container) starts it as Debian's postgres user.
SERVICE_USER = "postgres"


def postgres_binaries() -> Path | None:
    """The newest installed server's bin directory, or None when no Postgres server is installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda path: int(path.split("/")[4]))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    """A fresh cluster with trust authentication on a port of its own that survives a stop and a start."""

    def __init__(self, binaries: Path, datadir: Path) -> None:
        self.port = free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"
        self._binaries = binaries
        self._datadir = datadir
        self.running = False

    def initialise(self) -> None:
        self._run("initdb", "-D", str(self._datadir), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off"
        log = str(self._datadir / "server.log")
        self._run("pg_ctl", "-D", str(self._datadir), "-l", log, "-o", options, "-w", "-t", "30", "start")
        self.running = True

    def stop(self) -> None:
        """Fast shutdown: open sessions are terminated, as in a restart or failover."""
        self._run("pg_ctl", "-D", str(self._datadir), "-m", "fast", "-w", "-t", "30", "stop")
        self.running = False

    def _run(self, program: str, *arguments: str) -> None:
        command: Sequence[str] = (str(self._binaries / program), *arguments)
        if os.geteuid() == 0:
            command = ("runuser", "-u", SERVICE_USER, "--", *command)
        subprocess.run(command, check=True, capture_output=True, timeout=60)


@contextmanager
def private_postgres() -> Iterator[PostgresServer]:
    """Initialised and started; stopped and deleted at the end."""
    binaries = postgres_binaries()
    if binaries is None:
        raise RuntimeError("no Postgres server is installed (/usr/lib/postgresql/*/bin)")
    root = Path(tempfile.mkdtemp(prefix="private-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(root, SERVICE_USER)
    server = PostgresServer(binaries, root / "data")
    try:
        server.initialise()
        server.start()
        try:
            yield server
        finally:
            if server.running:
                server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
