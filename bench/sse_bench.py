"""Concurrent SSE clients held by one API process, and the delay from publish to client; prints figures.

Run: ``uv run python bench/sse_bench.py [--clients 2000]``. Needs Postgres and Redis (DATABASE_URL, a
server-level URL, and REDIS_URL; local defaults otherwise). Asserts nothing.

How it measures:
- A fresh database is created and migrated; ``--users`` users own ``--clients`` queued jobs (one event
  each), dealt round-robin. A user's events are numbered in their feed under a lock on their counter row
  until the commit: with one user, phase 2's webhooks queued on that row (in the bench's own process),
  which is the feed's ordering, not the streams' delivery.
- One API process (``voicepractice serve``) is started. A separate client process opens one raw HTTP/1.1
  SSE connection per job (``Last-Event-ID: 1``, so nothing is replayed) with at most ``--connect-burst``
  connects in flight. A client counts as connected when its first message (the opening keep-alive, sent
  once the server has subscribed) arrives; connect time is from starting the TCP connect to that message.
- The clients are held until each has received a keep-alive comment after its opening one (the server
  then also did one catch-up query per client), at most ``--hold`` seconds; the job channels subscribed
  in Redis are counted, and the API process's RSS and CPU time are read from /proc.
- Phase 1, fan-out: one progress event per job is appended to Postgres in one transaction, committed
  once the hold is over without being published (the commit hands them to a publisher that keeps
  them), then each is published through Redis (its job's and its owner's channel, one round trip), as
  fast as one publisher can (a burst) or at ``--publish-rate``. Delay = client receipt - the moment
  just before that job's publish; a client whose heartbeat catch-up read its event from Postgres
  before the publish is counted apart.
- Phase 2, webhook to client: every job is completed through the webhook use case (record the
  delivery, apply it, commit, publish), ``--webhook-concurrency`` at a time. Delay = client receipt -
  the start of that job's webhook. The stream must then close.
Both processes take timestamps from CLOCK_MONOTONIC, which is shared by all processes of a machine.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.events.redis_fanout import RedisJobEventPublisher
from adapters.persistence import migrations
from adapters.persistence.unit_of_work import SqlaUnitOfWork
from application.accounts import Credentials, SignUpRequest
from application.analysis.webhooks import Completed, WebhookDelivery
from application.catalog import ActorInput, MovieLineInput
from application.ports.persistence import UnitOfWork
from domain.accounts import Principal, Role
from domain.analysis.jobs import Job, JobEvent, Recording
from domain.analysis.results import AnalysisResult
from domain.catalog import ReferenceKind
from entrypoints.bootstrap import Container, build_container
from entrypoints.settings import Settings, normalise_database_url

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVER_URL = os.environ.get("DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = "bench password 123"
CONNECT_TIMEOUT_SECONDS = 300
RESULT = AnalysisResult(overall=75.0, scores={"pronunciation": 70.0, "intonation": 80.0})


# --- the client process ---------------------------------------------------------------------------


@dataclass
class ClientOutcome:
    connect_started: float = 0.0
    connected_at: float | None = None
    heartbeats: int = 0
    progress_at: float | None = None
    completed_at: float | None = None
    closed_at: float | None = None
    error: str | None = None


@dataclass
class ClientReport:
    outcomes: dict[str, ClientOutcome] = field(default_factory=dict)


def _request(host: str, port: int, job_id: str, token: str) -> bytes:
    return (
        f"GET /v1/jobs/{job_id}/events HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\nLast-Event-ID: 1\r\nConnection: close\r\n\r\n"
    ).encode()


async def _follow(
    host: str, port: int, job_id: str, token: str, outcome: ClientOutcome, gate: asyncio.Semaphore
) -> None:
    """One SSE client on a raw socket; notes when each kind of message arrives."""
    async with gate:
        outcome.connect_started = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError as error:
            outcome.error = f"connect: {error}"
            return
        writer.write(_request(host, port, job_id, token))
        status = await reader.readline()
        if b" 200 " not in status:
            outcome.error = f"status: {status!r}"
            writer.close()
            return
        while await reader.readline() not in (b"\r\n", b""):
            pass
        first = await reader.read(65536)
        if first:
            outcome.connected_at = time.monotonic()
    try:
        while chunk := await reader.read(65536):
            now = time.monotonic()
            outcome.heartbeats += chunk.count(b": keep-alive")
            if outcome.progress_at is None and b"event: progress" in chunk:
                outcome.progress_at = now
            if outcome.completed_at is None and b"event: completed" in chunk:
                outcome.completed_at = now
        outcome.closed_at = time.monotonic()
    except OSError as error:
        outcome.error = f"read: {error}"
    finally:
        writer.close()


async def _run_clients(
    pipe: Connection, host: str, port: int, tokens: dict[str, str], burst: int, hold: float
) -> None:
    outcomes = {job_id: ClientOutcome() for job_id in tokens}
    gate = asyncio.Semaphore(burst)
    tasks = [asyncio.create_task(_follow(host, port, j, t, outcomes[j], gate)) for j, t in tokens.items()]
    deadline = time.monotonic() + CONNECT_TIMEOUT_SECONDS
    pending = len(tokens)
    while pending and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        pending = sum(1 for o in outcomes.values() if o.connected_at is None and o.error is None)
    pipe.send("connected")
    # Hold until every connected client has had a heartbeat: the server's catch-up queries are done, and
    # the next ones are a heartbeat period away, so they cannot deliver the phases' events early.
    deadline = time.monotonic() + hold
    while time.monotonic() < deadline and any(
        o.heartbeats == 0 for o in outcomes.values() if o.connected_at is not None and o.closed_at is None
    ):
        await asyncio.sleep(0.05)
    pipe.send("held")
    # The parent tells us when to stop; the streams end by themselves after the terminal event.
    await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    pipe.send(ClientReport(outcomes))


def client_process(
    pipe: Connection, host: str, port: int, tokens: dict[str, str], burst: int, hold: float
) -> None:
    """``tokens``: each job's owner's bearer token, by job id."""
    _raise_open_files(len(tokens) + 256)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_run_clients(pipe, host, port, tokens, burst, hold))


# --- the orchestrating (and publishing) process ---------------------------------------------------


def _raise_open_files(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _admin_sql(statement: str) -> None:
    engine = create_async_engine(
        make_url(normalise_database_url(SERVER_URL)).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def _seed(container: Container, clients: int, users: int) -> dict[UUID, str]:
    """``users`` users owning ``clients`` queued jobs (round-robin) on one token; returns each job's
    owner's bearer token, by job id."""
    admin = await container.registration.sign_up(
        SignUpRequest("admin@bench.example", PASSWORD, "Admin"), role=Role.ADMIN
    )
    principal = Principal(admin.id, Role.ADMIN)
    actor = await container.catalog_admin.create_actor(principal, ActorInput("Bench Actor"))
    token = await container.catalog_admin.create_item(
        principal, MovieLineInput(actor.id, "Bench", "Hello there")
    )
    signing_up = asyncio.Semaphore(4)  # each holds a pooled connection while its password hashes

    async def owner(number: int) -> tuple[UUID, str]:
        email = f"user{number}@bench.example"
        async with signing_up:
            user = await container.registration.sign_up(SignUpRequest(email, PASSWORD, "User"))
            access = await container.authentication.log_in(Credentials(email, PASSWORD))
        return user.id, access.token

    # A few at a time: each costs two password hashes, which run on the hashing pool's threads.
    owners = await asyncio.gather(*(owner(number) for number in range(users)))
    tokens: dict[UUID, str] = {}
    now = datetime.now(UTC)
    for start in range(0, clients, 500):
        async with container.unit_of_work() as uow:
            for index in range(start, min(start + 500, clients)):
                owner, bearer = owners[index % users]
                job_id = uuid4()
                recording = Recording(f"recordings/{job_id}.wav", "audio/wav", 1.0, 32_000)
                job = Job.create(
                    job_id,
                    owner,
                    ReferenceKind.TOKEN,
                    token.id,
                    now,
                    recording,
                    deadline=timedelta(hours=1),
                )
                await uow.jobs.add(job)
                tokens[job_id] = bearer
            await uow.commit()
    return tokens


class _Kept:
    """A publisher that keeps what a commit hands it: the bench publishes those events itself, timed."""

    def __init__(self) -> None:
        self.events: list[JobEvent] = []

    async def publish(self, events: list[JobEvent]) -> None:
        self.events.extend(events)


async def _append_progress(uow: UnitOfWork, job_ids: list[UUID]) -> list[JobEvent]:
    """Each job's next event (sequence 2), through its state machine, in the caller's transaction."""
    events: list[JobEvent] = []
    for job_id in job_ids:
        job = await uow.jobs.get_for_update(job_id)
        assert job is not None
        event = job.report_progress(50, "features", datetime.now(UTC))
        assert event is not None
        await uow.jobs.save(job)
        events.append(event)
    return events


async def _publish(
    container: Container, events: list[JobEvent], rate: float
) -> tuple[dict[str, float], float]:
    """Publish at ``rate`` per second (0: as fast as possible); returns when each job's publish
    started, and how long publishing took."""
    publisher = RedisJobEventPublisher(container.event_fanout)
    published_at: dict[str, float] = {}
    started = time.monotonic()
    for index, event in enumerate(events):
        if rate and (ahead := started + index / rate - time.monotonic()) > 0:
            await asyncio.sleep(ahead)
        published_at[str(event.job_id)] = time.monotonic()
        await publisher.publish([event])
    return published_at, time.monotonic() - started


def _process_figures(pid: int) -> tuple[float, float]:
    """RSS in MiB and CPU seconds (user + system) of a process."""
    rss_kib = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS")
    )
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss_kib / 1024, (int(fields[11]) + int(fields[12])) / ticks


def _percentiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)

    def at(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] * 1000

    return f"p50 {at(0.5):.1f} ms, p99 {at(0.99):.1f} ms, max {ordered[-1] * 1000:.1f} ms (n={len(values)})"


async def _receive(pipe: Connection, clients: BaseProcess, within: float) -> Any:
    """The client process's next message; fails at once if that process died."""
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(pipe.poll, 1.0):
        if not clients.is_alive():
            raise RuntimeError(f"the client process exited with {clients.exitcode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no word from the client process within {within:.0f} s")
    return pipe.recv()


def _start_api(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [str(Path(sys.executable).parent / "voicepractice"), "serve", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the API exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise TimeoutError("the API did not start within 60 s")


async def _bench(args: argparse.Namespace) -> None:
    name = f"sse_bench_{os.getpid()}"
    await _admin_sql(f'CREATE DATABASE "{name}"')
    database_url = make_url(normalise_database_url(SERVER_URL)).set(database=name).render_as_string(False)
    workdir = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    log = workdir / "api.log"
    try:
        await asyncio.to_thread(migrations.upgrade, database_url)
        storage = workdir / "storage"
        settings = replace(
            Settings(),
            environment="test",
            database_url=database_url,
            redis_url=REDIS_URL,
            local_storage_dir=storage,
        )
        container = await build_container(settings)
        try:
            await _run(args, container, database_url, storage, log)
        finally:
            await container.close()
    finally:
        await _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _run(
    args: argparse.Namespace, container: Container, database_url: str, storage: Path, log: Path
) -> None:
    started = time.monotonic()
    load_before = os.getloadavg()
    tokens = await _seed(container, args.clients, args.users)
    job_ids = list(tokens)
    print(f"seeded {len(job_ids)} jobs of {args.users} users in {time.monotonic() - started:.1f} s")
    port = args.port or _free_port()
    env = {
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "LOCAL_STORAGE_DIR": str(storage),
        "LOG_LEVEL": "WARNING",
        "SSE_HEARTBEAT_SECONDS": str(args.heartbeat),
    }
    api = _start_api(port, env, log)
    ctx = multiprocessing.get_context("spawn")
    parent_end, child_end = ctx.Pipe()
    clients = ctx.Process(
        target=client_process,
        args=(
            child_end,
            "127.0.0.1",
            port,
            {str(j): t for j, t in tokens.items()},
            args.connect_burst,
            args.hold,
        ),
    )
    try:
        rss_idle, cpu_idle = _process_figures(api.pid)
        clients.start()
        assert await _receive(parent_end, clients, 600) == "connected"
        rss_connected, cpu_connected = _process_figures(api.pid)
        print(
            f"clients connected; holding them until each had a heartbeat ({args.heartbeat:.0f} s)", flush=True
        )
        held_from = time.monotonic()
        kept = _Kept()
        async with SqlaUnitOfWork(container.session_factory, kept) as uow:
            # Written during the hold but committed after it: no catch-up query sees them before.
            await _append_progress(uow, job_ids)
            assert await _receive(parent_end, clients, args.hold + 60) == "held"
            held = time.monotonic() - held_from
            rss_held, cpu_held = _process_figures(api.pid)
            channels = len(await container.redis.pubsub_channels("job:*"))
            await uow.commit()
        # As stored: each with its place in its owner's feed, so it goes to both channels.
        print(f"phase 1: publishing {len(kept.events)} events", flush=True)
        published_at, burst = await _publish(container, kept.events, args.publish_rate)
        await asyncio.sleep(args.settle)
        _, cpu_fan_out = _process_figures(api.pid)

        webhook_at: dict[str, float] = {}
        gate = asyncio.Semaphore(args.webhook_concurrency)

        async def complete(job_id: UUID) -> None:
            async with gate:
                webhook_at[str(job_id)] = time.monotonic()
                await container.webhooks.receive(
                    WebhookDelivery(f"msg_{uuid4().hex}", job_id, "analysis.completed", Completed(RESULT))
                )

        print(f"phase 2: completing {len(job_ids)} jobs through the webhook", flush=True)
        webhooks_started = time.monotonic()
        await asyncio.gather(*(complete(job_id) for job_id in job_ids))
        webhooks = time.monotonic() - webhooks_started
        await asyncio.sleep(args.settle)
        _, cpu_end = _process_figures(api.pid)
        parent_end.send("stop")
        report: ClientReport = await _receive(parent_end, clients, 120)
    finally:
        if clients.is_alive():
            clients.terminate()
        clients.join(10)
        api.send_signal(signal.SIGTERM)
        try:
            api.wait(25)
        except subprocess.TimeoutExpired:
            api.kill()

    outcomes = report.outcomes
    connect_times = [
        o.connected_at - o.connect_started for o in outcomes.values() if o.connected_at is not None
    ]
    errors = [o.error for o in outcomes.values() if o.error]
    ramp = max((o.connected_at or 0.0) for o in outcomes.values()) - min(
        o.connect_started for o in outcomes.values()
    )
    received = [o.progress_at - published_at[j] for j, o in outcomes.items() if o.progress_at is not None]
    fan_out = [delay for delay in received if delay >= 0]
    end_to_end = [o.completed_at - webhook_at[j] for j, o in outcomes.items() if o.completed_at is not None]
    heartbeats = sum(1 for o in outcomes.values() if o.heartbeats >= 1)
    closed = sum(1 for o in outcomes.values() if o.closed_at is not None)
    per_client_kib = (rss_held - rss_idle) * 1024 / max(1, len(connect_times))
    lines = [
        f"SSE benchmark: {args.clients} clients of {args.users} users on one API process; {os.cpu_count()} CPUs "
        "shared by all processes",
        f"  load average                {' / '.join(f'{x:.1f}' for x in load_before)} before, "
        f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())} after",
        f"  connected                   {len(connect_times)} / {args.clients}; errors {len(errors)} {errors[:3]}",
        f"  connect (TCP -> 1st msg)    {_percentiles(connect_times)}; all in {ramp:.2f} s, "
        f"{args.connect_burst} in flight",
        f"  held for {held:.0f} s             {channels} job channels subscribed in Redis; "
        f"{heartbeats} clients got a heartbeat ({args.heartbeat:.0f} s)",
        f"  API RSS                     idle {rss_idle:.0f} MiB, connected {rss_connected:.0f} MiB, "
        f"held {rss_held:.0f} MiB ({per_client_kib:.0f} KiB per client)",
        f"  API CPU                     connecting {cpu_connected - cpu_idle:.2f} s, holding "
        f"{cpu_held - cpu_connected:.2f} s, phase 1 {cpu_fan_out - cpu_held:.2f} s, phase 2 "
        f"{cpu_end - cpu_fan_out:.2f} s",
        f"  API CPU per operation       {(cpu_connected - cpu_idle) * 1000 / max(1, len(connect_times)):.2f} ms "
        f"per connect; {(cpu_fan_out - cpu_held) * 1000 / max(1, len(received)):.3f} ms per phase 1 event "
        f"delivered (settle included)",
        f"  phase 1: {len(job_ids)} publishes in {burst:.2f} s ({len(job_ids) / burst:.0f}/s); {len(received)} received, "
        f"{len(received) - len(fan_out)} of them by a catch-up before their publish (left out below)",
        f"    publish -> client         {_percentiles(fan_out)}",
        f"  phase 2: {len(job_ids)} webhooks in {webhooks:.2f} s ({len(job_ids) / webhooks:.0f}/s, "
        f"{args.webhook_concurrency} at a time); {len(end_to_end)} received",
        f"    webhook -> client         {_percentiles(end_to_end)}",
        f"  streams closed by the server after the terminal event: {closed}",
    ]
    print("\n" + "\n".join(lines))
    print(f"  (API log: {log})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--connect-burst", type=int, default=200, help="connects in flight at once")
    parser.add_argument("--heartbeat", type=float, default=15.0, help="SSE_HEARTBEAT_SECONDS of the API")
    parser.add_argument("--hold", type=float, default=60.0, help="longest wait for every client's heartbeat")
    parser.add_argument("--publish-rate", type=float, default=0, help="phase 1 events/s; 0: a burst")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds to wait for deliveries")
    parser.add_argument("--webhook-concurrency", type=int, default=8)
    parser.add_argument("--port", type=int, default=0, help="the API's port; 0: any free one")
    parser.add_argument(
        "--users", type=int, default=1, help="users owning the jobs (round-robin); each signs up and logs in"
    )
    args = parser.parse_args()
    _raise_open_files(args.clients + 256)
    asyncio.run(_bench(args))


if __name__ == "__main__":
    main()
