"""`voicepractice run-all`: the whole system on one machine, as `make run` starts it.

Starts the API, the worker and the reference analysis server as child processes sharing this
environment, prefixes nothing (each logs its own lines: console on a terminal, JSON otherwise), and stops all of them when one exits or
when this process receives SIGINT/SIGTERM.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType
from urllib.parse import urlsplit

GRACE_SECONDS = 25.0


def child_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "entrypoints", *args]


def let_the_analysis_server_reach_this_api(env: dict[str, str]) -> None:
    """A bearer token shared by the API and the analysis server (a fresh one unless set), and leave for
    the server to download from and call back this machine's API: its host, at a loopback address."""
    if not env.get("ANALYSIS_SERVER_AUTH_TOKEN", "").strip():
        env["ANALYSIS_SERVER_AUTH_TOKEN"] = secrets.token_urlsafe(32)
    urls = [env["PUBLIC_BASE_URL"], env.get("ANALYSIS_CALLBACK_URL") or env["PUBLIC_BASE_URL"]]
    hosts = dict.fromkeys(host for host in (urlsplit(url).hostname for url in urls) if host)
    env.setdefault("ANALYSIS_SERVER_ALLOWED_HOSTS", ",".join(hosts))
    env.setdefault("ANALYSIS_SERVER_ALLOWED_PRIVATE_NETWORKS", "127.0.0.0/8,::1/128")


def run_all(api_port: int, analysis_port: int, host: str = "127.0.0.1", roles: Sequence[str] = ()) -> int:
    env = dict(os.environ)
    env.setdefault("ANALYSIS_TOKEN_SERVER_URL", f"http://{host}:{analysis_port}")
    env.setdefault("ANALYSIS_SCRIPT_SERVER_URL", f"http://{host}:{analysis_port}")
    env.setdefault("PUBLIC_BASE_URL", f"http://{host}:{api_port}")
    let_the_analysis_server_reach_this_api(env)
    # As deployed (Dockerfile, fly.toml): one API process per core of a 2-core machine.
    env.setdefault("WEB_CONCURRENCY", "2")
    commands = {
        "api": child_command("serve", "--host", host, "--port", str(api_port)),
        "worker": child_command("worker"),
        "analysis": child_command("analysis-server", "--host", host, "--port", str(analysis_port)),
    }
    selected = [role for role in commands if not roles or role in roles]
    children = {role: subprocess.Popen(commands[role], env=env) for role in selected}  # noqa: S603
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for role, child in children.items():
            code = child.poll()
            if code is not None:
                print(f"{role} exited with {code}; stopping the others", file=sys.stderr)
                exit_code = code or 1
                stopping = True
        time.sleep(0.2)
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    for child in children.values():
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return exit_code
