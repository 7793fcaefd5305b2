"""Upload-to-result latency over SSE for a 5 s clip, with the processes `make run` starts.

Run from the repository root: ``uv run python bench/analysis_bench.py [--uploads N]``. A fresh database
is migrated; the API (``voicepractice serve``), the worker and the reference analysis server run as
real processes on this machine, with local storage and a Redis database of their own. A token gets
espeak-ng reference audio (WAV), a user uploads the same line in another voice (WebM/Opus), N times
one after another, after two uploads that warm up the processes and are not counted.

Each upload is timed from just before its POST to the moment its SSE stream (``GET /v1/jobs/{id}/events``,
opened when the POST answers, replaying what happened meanwhile) delivers the completed event. The
timeline of every SSE event is kept, so the figures break down into: the upload request, upload answer
to the analysis server's ``started`` (worker relay and dispatch), and ``started`` to ``completed``
(download, analysis and the webhooks in between). The analysis server's CPU per job is the CPU time
(user + system) of its whole process tree (server, fork server, analysis processes) over the counted
uploads, read from /proc, divided by their number. Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from tests.support.encoding import encode_audio
from tests.support.full_system import System, own_redis_database, sse_events
from tests.support.speech import Voice, synthesize

from adapters.persistence import migrations

CLIP = "Never give up on the things that make you smile, my friend, because they matter most."
SERVER = os.environ.get("BENCH_DATABASE_SERVER", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_DATABASE = 12
WARM_UP = 2


async def _admin_sql(statement: str) -> None:
    engine = create_async_engine(SERVER, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(statement))
    await engine.dispose()


def _tree_cpu_seconds(root_marker: str) -> float:
    """User + system CPU of every process whose command line holds ``root_marker``, and their descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    roots: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
        if root_marker in command:
            roots.add(pid)

    def in_tree(pid: int) -> bool:
        while pid > 1:
            if pid in roots:
                return True
            pid = parents.get(pid, 0)
        return False

    return sum(seconds for pid, seconds in cpu.items() if in_tree(pid))


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def run(uploads: int) -> None:
    reference = synthesize(CLIP, Voice("en-us"))
    take = synthesize(CLIP, Voice("en-us+f3", rate=150))
    reference_audio = encode_audio(reference.samples, reference.sample_rate, "wav")
    take_audio = encode_audio(take.samples, take.sample_rate, "webm")
    words = reference.word_timings()
    name = f"bench_analysis_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin_sql(f'CREATE DATABASE "{name}"'))
    database_url = SERVER.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrations.upgrade(database_url)
        with tempfile.TemporaryDirectory() as folder:
            system = System.configure(
                database_url, own_redis_database(REDIS_URL, REDIS_DATABASE), Path(folder)
            )
            try:
                system.start()
                _measure(system, uploads, reference_audio, take_audio, words, take.duration)
            finally:
                system.stop()
    finally:
        asyncio.run(_admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _measure(
    system: System,
    uploads: int,
    reference_audio: bytes,
    take_audio: bytes,
    words: list[dict[str, object]],
    take_seconds: float,
) -> None:
    import httpx

    admin = system.create_admin()
    token_id = system.create_reference(admin, "tokens", CLIP, words, reference_audio, "reference.wav")
    user = system.sign_up("bench@example.com")
    marker = f"analysis-server --port {system.analysis_port}"
    totals: list[float] = []
    upload_requests: list[float] = []
    to_started: list[float] = []
    started_to_completed: list[float] = []
    cpu_before = 0.0
    with httpx.Client(base_url=system.api_url, headers=user, timeout=60.0) as client:
        for number in range(WARM_UP + uploads):
            if number == WARM_UP:
                cpu_before = _tree_cpu_seconds(marker)
            began = time.perf_counter()
            answer = client.post(
                f"/v1/tokens/{token_id}/upload-audio", files={"file": ("take.webm", take_audio)}
            )
            answered = time.perf_counter()
            assert answer.status_code == 202, answer.text
            arrivals: dict[str, float] = {}
            with client.stream("GET", f"/v1/jobs/{answer.json()['id']}/events") as stream:
                assert stream.status_code == 200, stream.read()
                for event in sse_events(stream.iter_lines()):
                    arrivals.setdefault(event.event, time.perf_counter())
                    if event.event in {"completed", "failed"}:
                        assert event.event == "completed", event.data
                        break
            if number < WARM_UP:
                continue
            totals.append(arrivals["completed"] - began)
            upload_requests.append(answered - began)
            to_started.append(arrivals["started"] - answered)
            started_to_completed.append(arrivals["completed"] - arrivals["started"])
    cpu = (_tree_cpu_seconds(marker) - cpu_before) / uploads
    print(f"upload-to-result over SSE, {take_seconds:.1f} s WebM clip, {uploads} sequential uploads")
    print(
        f"  total (POST start -> completed event): median {_ms(statistics.median(totals))}, "
        f"p90 {_ms(_percentile(totals, 90))}, min {_ms(min(totals))}, max {_ms(max(totals))}"
    )
    for label, values in (
        ("upload request (POST -> 202)", upload_requests),
        ("202 -> started event (relay, dispatch)", to_started),
        ("started -> completed event (analysis, webhooks)", started_to_completed),
    ):
        print(f"  {label}: median {_ms(statistics.median(values))}, p90 {_ms(_percentile(values, 90))}")
    print(f"  analysis server CPU per job (its process tree): {_ms(cpu)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=20)
    run(parser.parse_args().uploads)


if __name__ == "__main__":
    main()
