"""Pipeline benchmark: upload throughput, commit-to-dispatch latency, webhook throughput.

Run with `make bench` (or `uv run python bench/pipeline_bench.py`). Everything runs on this machine:
a fresh Postgres database, the real API process (`voicepractice serve`), the real worker, and a small
recording analysis server. Baselines are measured in the same run, on the same uvicorn settings:
a bare Litestar app whose POST inserts one row. Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.support.encoding import encode_audio
from tests.support.threaded_server import listening_socket, read_body, serve_in_thread

from adapters.persistence import migrations
from entrypoints.settings import DEV_WEBHOOK_SECRET
from shared_kernel.webhooks import WebhookSigner

SERVER = os.environ.get("BENCH_DATABASE_SERVER", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(process: subprocess.Popen[bytes]) -> float:
    """User + system CPU the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


async def admin_sql(statement: str) -> None:
    engine = create_async_engine(SERVER, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(statement))
    await engine.dispose()


def database_url(name: str) -> str:
    return SERVER.rsplit("/", 1)[0] + f"/{name}"


class Recorder:
    """A stand-in analysis server: accepts every request at once and records when each job arrived."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        if scope["path"] == "/v1/analyses":
            self.arrivals.setdefault(json.loads(body)["job_id"], time.time())
        await send(
            {
                "type": "http.response.start",
                "status": 202,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b"{}"})


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *args], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT
    )


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


async def hammer(count: int, concurrency: int, request: Callable[[int], Awaitable[int]]) -> tuple[float, int]:
    """Send ``count`` requests with ``concurrency`` in flight; return (requests per second, errors)."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    errors = 0

    async def worker() -> None:
        nonlocal errors
        while not queue.empty():
            status = await request(queue.get_nowait())
            errors += status >= 300

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - started), errors


async def prepare_catalog(api: str) -> tuple[str, dict[str, str]]:
    """An admin, a token with reference audio, and a signed-in user."""
    env = {**os.environ}
    async with httpx.AsyncClient(base_url=api, timeout=30) as client:
        subprocess.run(
            [sys.executable, "-m", "entrypoints", "create-admin", "--email", "bench-admin@example.com",
             "--password", "bench admin password"],
            env=env, check=True, cwd=ROOT, capture_output=True,
        )  # fmt: skip
        admin = await login(client, "bench-admin@example.com", "bench admin password")
        actor = (await client.post("/v1/actors", json={"name": "Bench"}, headers=admin)).json()
        token = (
            await client.post(
                "/v1/tokens",
                json={
                    "actor_id": actor["id"],
                    "movie_title": "Bench",
                    "text": "bench line",
                    # Given timings: a tone has no speech to align (a reference without either is a 422).
                    "words": [
                        {"index": 0, "text": "bench", "start": 0.0, "end": 0.8},
                        {"index": 1, "text": "line", "start": 0.9, "end": 1.8},
                    ],
                },
                headers=admin,
            )
        ).json()
        await client.put(
            f"/v1/tokens/{token['id']}/reference-audio", files={"file": ("r.wav", wav(2.0))}, headers=admin
        )
        await client.post(
            "/v1/auth/signup",
            json={"email": "bench@example.com", "password": "bench password", "display_name": "B"},
        )
        user = await login(client, "bench@example.com", "bench password")
    return token["id"], user


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await client.post("/v1/auth/login", data={"username": email, "password": password})
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def wav(seconds: float) -> bytes:
    rate = 16000
    t = np.arange(int(seconds * rate)) / rate
    return encode_audio(
        (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.2 * np.sin(3 * t))).astype(np.float32), rate, "wav"
    )


async def main(args: argparse.Namespace) -> None:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    await admin_sql(f'CREATE DATABASE "{name}"')
    url = database_url(name)
    await asyncio.to_thread(migrations.upgrade, url)
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(
            text("CREATE TABLE bench_rows (id uuid PRIMARY KEY, body_size int, at timestamptz)")
        )
    workdir = Path(tempfile.mkdtemp(prefix="vp-bench-"))
    recorder = Recorder()
    analysis_port, api_port, bare_port = free_port(), free_port(), free_port()
    serve_in_thread(recorder, listening_socket(analysis_port), name="recording analysis server")
    api = f"http://127.0.0.1:{api_port}"
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}",
        "APP_ENV": "development",
        "DATABASE_URL": url,
        "LOCAL_STORAGE_DIR": str(workdir / "storage"),
        "PUBLIC_BASE_URL": api,
        "ANALYSIS_TOKEN_SERVER_URL": f"http://127.0.0.1:{analysis_port}",
        "ANALYSIS_SCRIPT_SERVER_URL": f"http://127.0.0.1:{analysis_port}",
        "LOG_LEVEL": "WARNING",
        # The benchmark is one user hammering the API on purpose.
        "UPLOAD_RATE_LIMIT": "off",
        "LOGIN_RATE_LIMIT_PER_ACCOUNT": "off",
        "LOGIN_RATE_LIMIT_PER_ADDRESS": "off",
        # Each run signs one user up from 127.0.0.1; repeated runs on one Redis db would hit the limit.
        "SIGN_UP_RATE_LIMIT_PER_ADDRESS": "off",
        "SAQ_QUEUE_NAME": f"bench-{name}",
        "BENCH_DATABASE_URL": url,
    }
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "LOCAL_STORAGE_DIR", "PUBLIC_BASE_URL")})
    processes = [
        start(["-m", "entrypoints", "serve", "--port", str(api_port)], env, workdir / "api.log"),
        start(["-m", "uvicorn", "--factory", "bench.bare_app:create", "--port", str(bare_port), "--log-level",
               "warning", "--no-access-log"], env, workdir / "bare.log"),
    ]  # fmt: skip
    try:
        wait_http(f"{api}/health")
        wait_http(f"http://127.0.0.1:{bare_port}/health")
        token_id, user = await prepare_catalog(api)
        recording = wav(5.0)
        print(
            f"recording: 5 s WAV, {len(recording)} bytes; concurrency {args.concurrency}; {args.requests} requests"
        )

        async with httpx.AsyncClient(
            base_url=api, timeout=60, limits=httpx.Limits(max_connections=64)
        ) as client:
            uploaded: list[str] = []

            async def upload(_: int) -> int:
                response = await client.post(
                    f"/v1/tokens/{token_id}/upload-audio",
                    files={"file": ("take.wav", recording)},
                    headers=user,
                )
                if response.status_code == 202:
                    uploaded.append(response.json()["id"])
                return response.status_code

            async def bare(_: int) -> int:
                response = await client.post(
                    f"http://127.0.0.1:{bare_port}/bare", files={"file": ("take.wav", recording)}
                )
                return response.status_code

            if not args.relay_only:
                await hammer(20, 4, bare)
                await hammer(20, 4, upload)
                bare_rate, bare_errors = await hammer(args.requests, args.concurrency, bare)
                upload_rate, upload_errors = await hammer(args.requests, args.concurrency, upload)
                print(f"bare insert POST:        {bare_rate:8.1f} req/s  (errors {bare_errors})")
                print(f"upload 202 (5 s WAV):    {upload_rate:8.1f} req/s  (errors {upload_errors})")
                print(f"  ratio upload / bare:   {upload_rate / bare_rate:8.2f}")

                # Webhooks: verified, deduplicated, applied; against the bare insert with the same body.
                signer = WebhookSigner(DEV_WEBHOOK_SECRET)
                deliveries = []
                for i in range(args.requests):
                    body = json.dumps({
                        "type": "analysis.progress", "timestamp": datetime.now(UTC).isoformat(),
                        "data": {"job_id": uploaded[i % len(uploaded)], "percent": 1 + i % 99, "stage": "features"},
                    }).encode()  # fmt: skip
                    deliveries.append((body, signer.headers(f"msg_{uuid.uuid4().hex}", body)))

                async def webhook(i: int) -> int:
                    body, headers = deliveries[i]
                    response = await client.post("/webhooks/analysis", content=body, headers=headers)
                    return response.status_code

                async def bare_json(i: int) -> int:
                    body, _ = deliveries[i]
                    response = await client.post(f"http://127.0.0.1:{bare_port}/bare-json", content=body)
                    return response.status_code

                bare_json_rate, _ = await hammer(args.requests, args.concurrency, bare_json)
                webhook_rate, webhook_errors = await hammer(args.requests, args.concurrency, webhook)
                print(f"bare insert POST (JSON): {bare_json_rate:8.1f} req/s")
                print(f"verified webhooks:       {webhook_rate:8.1f} req/s  (errors {webhook_errors})")
                print(f"  ratio webhooks / bare: {webhook_rate / bare_json_rate:8.2f}")
            # Commit-to-dispatch: the worker relays at a steady upload rate.
            worker = start(["-m", "entrypoints", "worker"], env, workdir / "worker.log")
            processes.append(worker)
            # Let the worker start (its CPU settles) and drain the relays queued by the throughput runs
            # before timing anything.
            settled = cpu_seconds(worker)
            while True:
                await asyncio.sleep(1.0)
                now_cpu = cpu_seconds(worker)
                if now_cpu - settled < 0.05:
                    break
                settled = now_cpu
            async with engine.connect() as connection:
                while await connection.scalar(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")):
                    await asyncio.sleep(0.5)
                    await connection.rollback()
            # The worker's idle CPU (SAQ polling, the sweep finding nothing) over a measured pause, the
            # same-run baseline subtracted from its CPU while relaying.
            idle_started, idle_cpu = time.perf_counter(), cpu_seconds(worker)
            await asyncio.sleep(args.idle_seconds)
            idle_per_second = (cpu_seconds(worker) - idle_cpu) / (time.perf_counter() - idle_started)
            relay_cpu = cpu_seconds(worker)
            sent: list[str] = []
            refused: dict[int, int] = {}
            interval = 1 / args.rate
            started = time.perf_counter()
            for i in range(int(args.rate * args.seconds)):
                await asyncio.sleep(max(0, started + i * interval - time.perf_counter()))
                response = await client.post(
                    f"/v1/tokens/{token_id}/upload-audio",
                    files={"file": ("take.wav", recording)},
                    headers=user,
                )
                if response.status_code == 202:
                    sent.append(response.json()["id"])
                else:
                    refused[response.status_code] = refused.get(response.status_code, 0) + 1
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not all(job in recorder.arrivals for job in sent):
                await asyncio.sleep(0.1)
            async with engine.connect() as connection:
                # The outbox row's created_at is taken just before the job's transaction commits.
                rows = (
                    await connection.execute(
                        text(
                            "SELECT job_id::text, extract(epoch from created_at), extract(epoch from updated_at) "
                            "FROM outbox WHERE job_id::text = ANY(:ids)"
                        ),
                        {"ids": sent},
                    )
                ).all()
            relay_seconds = time.perf_counter() - started
            relay_cpu = cpu_seconds(worker) - relay_cpu - idle_per_second * relay_seconds
            dispatched = sum(job in recorder.arrivals for job in sent)
            latencies = [
                (recorder.arrivals[job] - float(at)) * 1000 for job, at, _ in rows if job in recorder.arrivals
            ]
            # The row's last update is its mark (after the analysis server's answer, and the mark's window).
            marks = [(float(marked) - float(at)) * 1000 for _, at, marked in rows]
            print(
                f"commit-to-dispatch at {args.rate}/s for {args.seconds} s: {len(latencies)}/{len(sent)} dispatched"
                f"{f' (not accepted: {refused})' if refused else ''}, "
                f"p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, "
                f"max {max(latencies, default=float('nan')):.1f} ms"
            )
            print(f"  commit-to-mark: p50 {percentile(marks, 50):.1f} ms, p99 {percentile(marks, 99):.1f} ms")
            print(
                f"worker CPU per dispatched job: {1000 * relay_cpu / max(dispatched, 1):.2f} ms "
                f"(idle baseline {1000 * idle_per_second:.1f} ms/s subtracted; {dispatched} jobs)"
            )

    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        await engine.dispose()
        await admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=20.0, help="uploads per second for the latency run")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="the worker's idle CPU baseline")
    parser.add_argument(
        "--relay-only",
        action="store_true",
        help="skip the throughput and webhook runs: only the worker's relay",
    )
    asyncio.run(main(parser.parse_args()))
