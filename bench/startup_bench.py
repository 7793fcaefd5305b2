"""Start-up benchmark: exec to ready of the API (one and two processes) and the worker, beside a baseline.

Run with `make bench` (or `uv run python -m bench.startup_bench`). A fresh migrated database; each
process is started as `voicepractice` starts it (`python -m entrypoints serve|worker`) in a process
group of its own, and timed from exec until ready: the API when `GET /health` answers 200, the worker
when it logs `worker started`; polled every 20 ms. CPU is user + system time of every process in the
group at that moment (with two API processes: the parent that imported the app and its forked
children). The baseline, measured in the same run, is the bare Litestar app the other benchmarks use
(bench/bare_app.py under uvicorn): what the framework and server alone cost. Runs alternate between
the targets, so a change in the machine's load touches all of them alike; the load average is printed.
Figures only; tests/unit/entrypoints/test_startup_imports.py and tests/e2e/test_serve_processes.py
assert the behaviour.

The service's processes run on the interpreter of ``--python``: by default the production dependency
set that `make bench-venv` installs in .bench/production-venv (what the Dockerfile installs: no dev
group), when it exists. The dev group brings pydantic and cryptography, which Litestar, PyJWT and redis
import whenever they are installed; a deployed process never pays for them. ``--python`` with this
project's .venv/bin/python measures the development venv instead. "API + worker" starts both at once in
one group, as `make run` and the side-by-side harness do, and is ready when /health answers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from adapters.persistence import migrations
from bench.pipeline_bench import ROOT, admin_sql, database_url, free_port

TICKS = os.sysconf("SC_CLK_TCK")
PRODUCTION_VENV_PYTHON = ROOT / ".bench" / "production-venv" / "bin" / "python"
READY_TIMEOUT_SECONDS = 120.0


def group_cpu_seconds(group: int) -> float:
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


def time_to_ready(target: str, env: dict[str, str], workdir: Path, python: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) from exec until ``target`` is ready."""
    port = free_port()
    log = workdir / f"{target}.log"
    serve = [python, "-m", "entrypoints", "serve", "--port", str(port), "--workers"]
    if target == "baseline":
        command = [sys.executable, "-m", "uvicorn", "--factory", "bench.bare_app:create", "--port", str(port)]
        command += ["--log-level", "warning", "--no-access-log"]
    elif target == "worker":
        command = [python, "-m", "entrypoints", "worker"]
    elif target == "api+worker":
        # As the side-by-side harness and `make run` start them: the worker beside the API, one group.
        worker = shlex.join([python, "-m", "entrypoints", "worker"])
        command = ["/bin/sh", "-c", f"{worker} & exec {shlex.join([*serve, '2'])}"]
    else:
        command = [*serve, target.rsplit("-", 1)[1]]
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        env=env,
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        while time.monotonic() - started < READY_TIMEOUT_SECONDS:
            ready = (
                "worker started" in log.read_text(errors="replace") if target == "worker" else _healthy(port)
            )
            if ready:
                return time.monotonic() - started, group_cpu_seconds(process.pid)
            if process.poll() is not None:
                raise RuntimeError(f"{target} exited with {process.returncode}: {log.read_text()[-2000:]}")
            time.sleep(0.02)
        raise RuntimeError(f"{target} not ready after {READY_TIMEOUT_SECONDS} s")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _load() -> str:
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


async def main(args: argparse.Namespace) -> None:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    await admin_sql(f'CREATE DATABASE "{name}"')
    url = database_url(name)
    try:
        await asyncio.to_thread(migrations.upgrade, url)
        workdir = Path(tempfile.mkdtemp(prefix="vp-startup-"))
        env = {
            **os.environ,
            "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}",
            "APP_ENV": "development",
            "DATABASE_URL": url,
            "BENCH_DATABASE_URL": url,
            "LOCAL_STORAGE_DIR": str(workdir / "storage"),
            "SAQ_QUEUE_NAME": f"bench-{name}",
            "WORKER_METRICS_PORT": "0",
        }
        python = args.python or (
            str(PRODUCTION_VENV_PYTHON) if PRODUCTION_VENV_PYTHON.exists() else sys.executable
        )
        print(f"the service's processes run on {python}")
        targets = ["baseline", "api-1", "api-2", "worker", "api+worker"]
        figures: dict[str, list[tuple[float, float]]] = {target: [] for target in targets}
        print(f"load average before: {_load()}")
        for _ in range(args.runs):
            for target in targets:
                figures[target].append(time_to_ready(target, env, workdir, python))
        print(f"load average after: {_load()}")
        print(f"{'exec to ready':<34} {'wall s (min / median)':>22} {'CPU s (min / median)':>22}")
        labels = {
            "baseline": "bare Litestar app (baseline)",
            "api-1": "API, 1 process (/health 200)",
            "api-2": "API, 2 processes (/health 200)",
            "worker": "worker ('worker started')",
            "api+worker": "API (2 processes) + worker, at once",
        }
        for target in targets:
            walls = sorted(wall for wall, _ in figures[target])
            cpus = sorted(cpu for _, cpu in figures[target])
            wall = f"{walls[0]:.2f} / {walls[len(walls) // 2]:.2f}"
            cpu = f"{cpus[0]:.2f} / {cpus[len(cpus) // 2]:.2f}"
            print(f"{labels[target]:<34} {wall:>22} {cpu:>22}")
    finally:
        await admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="starts of each target, alternating")
    parser.add_argument(
        "--python",
        default=None,
        help=f"interpreter of the service's processes (default: {PRODUCTION_VENV_PYTHON} if it exists, else this one)",
    )
    asyncio.run(main(parser.parse_args()))
