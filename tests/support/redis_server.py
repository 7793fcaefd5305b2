"""A Redis server of a test's own (Debian's ``redis-server``), for tests that pause or stop Redis without
disturbing every other test sharing the session's Redis."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.support.full_system import free_port


@contextmanager
def private_redis(workdir: Path) -> Iterator[str]:
    """A fresh, empty, non-persistent Redis on a free port; yields its URL."""
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    log = (workdir / f"redis-{port}.log").open("wb")
    process = subprocess.Popen(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10.0
        while True:
            try:
                with redis.Redis.from_url(url, socket_timeout=1.0) as client:
                    client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(10.0)
        log.close()
