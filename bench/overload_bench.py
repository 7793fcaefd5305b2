"""Overload benchmark: uploads at 4x what the API takes, open loop, against the real API processes.

Run with `make bench` (or `uv run python -m bench.overload_bench`). A fresh database, the API as
deployed (`voicepractice serve`, WEB_CONCURRENCY processes, 2 unless set) and a recording analysis
server. First the capacity is measured in the same run (closed loop, 16 clients); then uploads are
sent at ``--factor`` times that rate for ``--seconds`` without waiting for answers, as clients that
do not slow down would. Figures are printed (statuses, latency of the accepted and of the refused,
clients that waited past 30 s); nothing is asserted: tests/e2e/test_overload_api.py asserts the
behaviour (no 500, 503 with Retry-After, accepted uploads queued).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
from tests.support.threaded_server import listening_socket, serve_in_thread

from adapters.persistence import migrations
from bench.pipeline_bench import (
    ROOT,
    Recorder,
    admin_sql,
    database_url,
    free_port,
    hammer,
    percentile,
    prepare_catalog,
    start,
    wait_http,
    wav,
)

CLIENT_TIMEOUT_SECONDS = 30.0


async def main(args: argparse.Namespace) -> None:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    await admin_sql(f'CREATE DATABASE "{name}"')
    url = database_url(name)
    await asyncio.to_thread(migrations.upgrade, url)
    workdir = Path(tempfile.mkdtemp(prefix="vp-overload-"))
    analysis_port, api_port = free_port(), free_port()
    serve_in_thread(Recorder(), listening_socket(analysis_port), name="recording analysis server")
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
        "UPLOAD_RATE_LIMIT": "off",
        "LOGIN_RATE_LIMIT_PER_ACCOUNT": "off",
        "LOGIN_RATE_LIMIT_PER_ADDRESS": "off",
        "SAQ_QUEUE_NAME": f"bench-{name}",
        "WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", "2"),
    }
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "LOCAL_STORAGE_DIR", "PUBLIC_BASE_URL")})
    processes = [
        start(["-m", "entrypoints", "serve", "--port", str(api_port)], env, workdir / "api.log"),
        start(["-m", "entrypoints", "worker"], env, workdir / "worker.log"),
    ]
    try:
        wait_http(f"{api}/health", timeout=240.0)
        token_id, user = await prepare_catalog(api)
        recording = wav(5.0)
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
        async with httpx.AsyncClient(base_url=api, timeout=CLIENT_TIMEOUT_SECONDS, limits=limits) as client:

            async def upload(_: int) -> int:
                response = await client.post(
                    f"/v1/tokens/{token_id}/upload-audio",
                    files={"file": ("take.wav", recording)},
                    headers=user,
                )
                return response.status_code

            await hammer(20, 4, upload)
            capacity, errors = await hammer(args.requests, 16, upload)
            rate = capacity * args.factor
            print(
                f"API processes {env['WEB_CONCURRENCY']}; capacity (16 clients, closed loop): "
                f"{capacity:.1f} uploads/s (non-202: {errors})"
            )

            outcomes: list[tuple[str, float, str | None]] = []

            async def one() -> None:
                sent = time.perf_counter()
                try:
                    response = await client.post(
                        f"/v1/tokens/{token_id}/upload-audio",
                        files={"file": ("take.wav", recording)},
                        headers=user,
                    )
                    status = str(response.status_code)
                    retry_after = response.headers.get("retry-after")
                except httpx.TimeoutException:
                    status, retry_after = "client timeout", None
                except httpx.TransportError as error:
                    status, retry_after = type(error).__name__, None
                outcomes.append((status, time.perf_counter() - sent, retry_after))

            tasks = []
            started = time.perf_counter()
            for i in range(int(rate * args.seconds)):
                await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
                tasks.append(asyncio.create_task(one()))
            await asyncio.gather(*tasks)

        statuses = Counter(status for status, _, _ in outcomes)
        accepted = [seconds * 1000 for status, seconds, _ in outcomes if status == "202"]
        refused = [(seconds * 1000, after) for status, seconds, after in outcomes if status in {"503", "429"}]
        print(
            f"open loop at {args.factor:g}x = {rate:.0f} uploads/s for {args.seconds:g} s: statuses {dict(statuses)}"
        )
        print(
            f"  accepted {len(accepted) / args.seconds:.1f}/s, 202 p50 {percentile(accepted, 50):.0f} ms, "
            f"p99 {percentile(accepted, 99):.0f} ms, max {max(accepted, default=float('nan')):.0f} ms"
        )
        print(
            f"  refused (503/429) p50 {percentile([r for r, _ in refused], 50):.0f} ms, "
            f"p99 {percentile([r for r, _ in refused], 99):.0f} ms; "
            f"without Retry-After: {sum(1 for _, after in refused if after is None)}"
        )
        print(
            f"  500s: {statuses.get('500', 0)}; clients waiting {CLIENT_TIMEOUT_SECONDS:g} s: {statuses.get('client timeout', 0)}"
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except Exception:
                process.kill()
        await admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300, help="uploads for the capacity run")
    parser.add_argument("--factor", type=float, default=4.0, help="open-loop rate as a multiple of capacity")
    parser.add_argument("--seconds", type=float, default=10.0)
    asyncio.run(main(parser.parse_args()))
