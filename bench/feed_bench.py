"""Live-feed connections held by one API process, WebSocket next to SSE, and the delay from commit to
client; prints figures, asserts nothing.

Run: ``uv run python bench/feed_bench.py [--clients 1000] [--users 50]``. Needs Postgres and Redis
(DATABASE_URL, a server-level URL, and REDIS_URL; local defaults otherwise).

How it measures (one fresh, migrated database; one API process, ``voicepractice serve``):
- ``--users`` users are signed up; ``--clients`` connections are spread over them round-robin, so the
  process subscribes ``--users`` user channels in Redis.
- A separate client process opens the connections, at most ``--connect-burst`` in flight: first all
  WebSockets (``/v1/notifications``), then, once those are closed, as many SSE feeds (``/v1/events``).
  A connection counts as open at its first message (the opening heartbeat, sent once the server has
  subscribed and found nothing to replay); connect time runs from the TCP connect to that message.
- With each kind held, the API process's RSS and CPU time are read from /proc; RSS per connection is
  (RSS held - RSS before) / connections. Memory the first kind freed is reused by the second, so the
  second's figure is low: ``--kinds sse`` (or ``websocket``) measures one kind on its own.
- While the WebSockets are held, each user gets one job (its queued event) committed through the unit
  of work, which publishes it on the user's channel; delay = client receipt - the moment before that
  commit. Both processes read CLOCK_MONOTONIC, shared by the machine's processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from uuid import UUID, uuid4

from sqlalchemy.engine import make_url
from websockets.asyncio.client import connect

from adapters.persistence import migrations
from application.accounts import Credentials, SignUpRequest
from application.catalog import ActorInput, MovieLineInput
from bench.sse_bench import (
    PASSWORD,
    REDIS_URL,
    SERVER_URL,
    _admin_sql,
    _free_port,
    _percentiles,
    _process_figures,
    _raise_open_files,
    _receive,
    _start_api,
)
from domain.accounts import Principal, Role
from domain.analysis.jobs import Job, Recording
from domain.catalog import ReferenceKind
from entrypoints.bootstrap import Container, build_container
from entrypoints.settings import Settings, normalise_database_url

OPEN_TIMEOUT_SECONDS = 300
HOUR = timedelta(hours=1)

# --- the client process ---------------------------------------------------------------------------


class Held:
    def __init__(self) -> None:
        self.connect_seconds: list[float] = []
        self.errors: list[str] = []
        self.first_event_at: dict[str, float] = {}  # user id -> receipt of their first event


async def _websocket(
    url: str, token: str, user: str, held: Held, gate: asyncio.Semaphore, stop: asyncio.Event
) -> None:
    async with gate:
        started = time.monotonic()
        try:
            ws = await connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=60)
            await ws.recv()
        except Exception as error:
            held.errors.append(f"ws: {error!r}")
            return
        held.connect_seconds.append(time.monotonic() - started)
    try:
        while not stop.is_set():
            message = json.loads(await ws.recv())
            if message["type"] == "event" and user not in held.first_event_at:
                held.first_event_at[user] = time.monotonic()
    except Exception as error:
        if not stop.is_set():
            held.errors.append(f"ws read: {error!r}")
    finally:
        await ws.close()


async def _sse(
    host: str, port: int, token: str, held: Held, gate: asyncio.Semaphore, stop: asyncio.Event
) -> None:
    async with gate:
        started = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(
                f"GET /v1/events HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                "Accept: text/event-stream\r\nConnection: close\r\n\r\n".encode()
            )
            if b" 200 " not in await reader.readline():
                raise RuntimeError("not 200")
            while await reader.readline() not in (b"\r\n", b""):
                pass
            await reader.read(65536)
        except Exception as error:
            held.errors.append(f"sse: {error!r}")
            return
        held.connect_seconds.append(time.monotonic() - started)
    await stop.wait()
    writer.close()


async def _clients(
    pipe: Connection,
    host: str,
    port: int,
    tokens: list[tuple[str, str]],
    clients: int,
    burst: int,
    kinds: list[str],
) -> None:
    ws_url = f"ws://{host}:{port}/v1/notifications"
    for kind in kinds:
        held, stop, gate = Held(), asyncio.Event(), asyncio.Semaphore(burst)
        assigned = [tokens[index % len(tokens)] for index in range(clients)]
        tasks = [
            asyncio.create_task(
                _websocket(ws_url, token, user, held, gate, stop)
                if kind == "websocket"
                else _sse(host, port, token, held, gate, stop)
            )
            for user, token in assigned
        ]
        deadline = time.monotonic() + OPEN_TIMEOUT_SECONDS
        while len(held.connect_seconds) + len(held.errors) < clients and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        pipe.send(("held", kind, held.connect_seconds, held.errors[:5], len(held.errors)))
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # "release"
        if kind == "websocket":
            pipe.send(("received", held.first_event_at))
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(1.0)  # the server notices the disconnects


def client_process(
    pipe: Connection,
    host: str,
    port: int,
    tokens: list[tuple[str, str]],
    clients: int,
    burst: int,
    kinds: list[str],
) -> None:
    _raise_open_files(clients + 256)
    asyncio.run(_clients(pipe, host, port, tokens, clients, burst, kinds))


# --- the orchestrating (and committing) process ---------------------------------------------------


async def _seed(container: Container, users: int) -> tuple[list[tuple[str, str]], UUID]:
    admin = await container.registration.sign_up(
        SignUpRequest("admin@bench.example", PASSWORD, "Admin"), role=Role.ADMIN
    )
    principal = Principal(admin.id, Role.ADMIN)
    actor = await container.catalog_admin.create_actor(principal, ActorInput("Bench Actor"))
    item = await container.catalog_admin.create_item(
        principal, MovieLineInput(actor.id, "Bench", "Hello there")
    )
    tokens = []
    for index in range(users):
        email = f"user{index}@bench.example"
        user = await container.registration.sign_up(SignUpRequest(email, PASSWORD, "User"))
        access = await container.authentication.log_in(Credentials(email, PASSWORD))
        tokens.append((str(user.id), access.token))
    return tokens, item.id


async def _commit_one_job_each(
    container: Container, tokens: list[tuple[str, str]], item_id: UUID
) -> dict[str, float]:
    committed_at = {}
    for user, _ in tokens:
        job_id = uuid4()
        recording = Recording(f"recordings/{job_id}.wav", "audio/wav", 1.0, 32_000)
        job = Job.create(
            job_id, UUID(user), ReferenceKind.TOKEN, item_id, datetime.now(UTC), recording, deadline=HOUR
        )
        committed_at[user] = time.monotonic()
        async with container.unit_of_work() as uow:
            await uow.jobs.add(job)
            await uow.commit()
    return committed_at


async def _run(args: argparse.Namespace, container: Container, database_url: str, workdir: Path) -> None:
    tokens, item_id = await _seed(container, args.users)
    port = _free_port()
    env = {
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "LOCAL_STORAGE_DIR": str(workdir / "storage"),
        "LOG_LEVEL": "WARNING",
        "UPLOAD_RATE_LIMIT": "off",
    }
    api = _start_api(port, env, workdir / "api.log")
    parent, child = multiprocessing.Pipe()
    clients = multiprocessing.get_context("spawn").Process(
        target=client_process,
        args=(child, "127.0.0.1", port, tokens, args.clients, args.connect_burst, args.kinds.split(",")),
    )
    try:
        rss_before, _ = _process_figures(api.pid)
        clients.start()
        for _kind in args.kinds.split(","):
            _, kind, connect_seconds, errors, error_count = await _receive(
                parent, clients, OPEN_TIMEOUT_SECONDS + 60
            )
            rss, cpu = _process_figures(api.pid)
            held = len(connect_seconds)
            print(
                f"{kind}: {held} of {args.clients} connections held by one API process ({args.users} users)"
            )
            print(f"  connect to first message: {_percentiles(connect_seconds)}")
            print(
                f"  API RSS {rss:.0f} MiB (+{rss - rss_before:.0f} MiB, {(rss - rss_before) * 1024 / max(held, 1):.1f} KiB a connection), CPU {cpu:.1f} s so far"
            )
            if error_count:
                print(f"  {error_count} failed, e.g. {errors}")
            if kind == "websocket":
                committed_at = await _commit_one_job_each(container, tokens, item_id)
                await asyncio.sleep(2.0)
                parent.send("release")
                _, received_at = await _receive(parent, clients, 60)
                delays = [
                    received_at[user] - committed_at[user] for user in received_at if user in committed_at
                ]
                print(
                    f"  commit to first client of each user ({len(received_at)} of {len(tokens)} users): {_percentiles(delays)}"
                )
            parent.send("release")
            await asyncio.sleep(1.5)
            rss_before, _ = _process_figures(api.pid)
        clients.join(30)
    finally:
        if clients.is_alive():
            clients.kill()
        api.terminate()
        api.wait(30)


async def _bench(args: argparse.Namespace) -> None:
    name = f"feed_bench_{os.getpid()}"
    await _admin_sql(f'CREATE DATABASE "{name}"')
    database_url = make_url(normalise_database_url(SERVER_URL)).set(database=name).render_as_string(False)
    workdir = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    try:
        await asyncio.to_thread(migrations.upgrade, database_url)
        settings = replace(
            Settings(),
            environment="test",
            database_url=database_url,
            redis_url=REDIS_URL,
            local_storage_dir=workdir / "storage",
        )
        container = await build_container(settings)
        try:
            await _run(args, container, database_url, workdir)
        finally:
            await container.close()
    finally:
        await _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--connect-burst", type=int, default=100)
    # RSS freed by the first kind's connections is reused by the second's: run one kind for its own.
    parser.add_argument("--kinds", default="websocket,sse", help="websocket, sse, or both in order")
    args = parser.parse_args()
    asyncio.run(_bench(args))


if __name__ == "__main__":
    main()
