"""A user's live feed (WebSocket /v1/notifications, SSE /v1/events) against real API processes.

The processes share nothing but Postgres and Redis; this test process plays a third one that receives
webhooks (its container persists and publishes events), and the API processes produce events of their
own (a cancellation). A real WebSocket client (websockets) reads the feed.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from adapters.events.redis_fanout import user_channel
from application.analysis.webhooks import Progress, Started
from entrypoints.bootstrap import Container
from entrypoints.http.controllers.job_events import CREDENTIAL_EXPIRED
from tests.e2e.test_job_events_sse import (
    BRIEF_CREDENTIALS,
    _api_environment,
    _deliver,
    _queued_job,
    _stop,
    _token_id,
    _user,
    open_stream,
    reopening_status,
    until_closed,
)
from tests.support.api_client import SignUp, log_in
from tests.support.full_system import free_port
from tests.support.processes import api_process

WAIT = 10.0
HEARTBEAT = 15.0
Feed = list[dict[str, Any]]


@pytest.fixture(scope="module")
def feed_servers(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """Two API processes "a" and "b";
    'brief' issues access tokens and feed tickets that expire after 4 s and checks them at every 1 s
    heartbeat."""
    logs, storage = tmp_path_factory.mktemp("feed-logs"), tmp_path_factory.mktemp("storage")
    extra = {
        "a": {},
        "b": {},
        "slow": {"FEED_SEND_QUEUE": "4", "FEED_SEND_TIMEOUT_SECONDS": "0.5"},
        "brief": {**BRIEF_CREDENTIALS, "SSE_HEARTBEAT_SECONDS": "1"},
    }
    ports = {name: free_port() for name in extra}
    processes = {
        name: api_process(
            {**_api_environment(database_url, redis_url, storage, HEARTBEAT), **variables},
            logs / name,
            ports[name],
        )
        for name, variables in extra.items()
    }
    try:
        with ThreadPoolExecutor(len(processes)) as starting:
            for started in [starting.submit(process.start, 60.0) for process in processes.values()]:
                started.result()
        yield {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    finally:
        for process in processes.values():
            _stop(process)


def _ws_url(base_url: str, **query: str) -> str:
    url = base_url.replace("http://", "ws://") + "/v1/notifications"
    return url + ("?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else "")


@asynccontextmanager
async def _socket(
    base_url: str, headers: dict[str, str] | None = None, receive_buffer: int | None = None, **query: str
) -> AsyncIterator[ClientConnection]:
    sock = None
    if receive_buffer is not None:
        # A small receive buffer (set before connecting, so the window stays small) makes a client
        # that stops reading push back on the server after little data.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.connect(("127.0.0.1", int(base_url.rsplit(":", 1)[1])))
    async with connect(
        _ws_url(base_url, **query),
        additional_headers=headers or {},
        sock=sock,
        open_timeout=WAIT,
        compression=None if receive_buffer is not None else "deflate",
    ) as ws:
        yield ws


async def _events(ws: ClientConnection, count: int) -> Feed:
    """The next ``count`` feed events (heartbeats skipped), each wait bounded."""
    events: Feed = []
    async with asyncio.timeout(WAIT):
        while len(events) < count:
            message = json.loads(await ws.recv())
            if message["type"] == "event":
                events.append(message)
    return events


async def _close_code(ws: ClientConnection) -> int | None:
    """Read until the server closes; its close code."""
    async with asyncio.timeout(WAIT * 3):
        try:
            while True:
                await ws.recv()
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None


async def _until_user_subscribers(redis: Redis, user_id: UUID, expected: int) -> None:
    async with asyncio.timeout(WAIT):
        while True:
            [(_, count)] = await redis.pubsub_numsub(user_channel(user_id))
            if count == expected:
                return
            await asyncio.sleep(0.02)


def _cursors(events: Feed) -> list[int]:
    return [int(event["cursor"]) for event in events]


async def test_two_users_each_follow_their_three_jobs_across_processes_and_resume_mid_way(
    feed_servers: dict[str, str],
    client: httpx.AsyncClient,
    container: Container,
    sign_up: SignUp,
    admin_headers: dict[str, str],
    redis: Redis,
) -> None:
    token_id = await _token_id(client, admin_headers)
    (alice_headers, alice), (bob_headers, bob) = await _user(client, sign_up), await _user(client, sign_up)

    async with (
        _socket(feed_servers["a"], alice_headers) as alice_ws,
        _socket(feed_servers["b"], bob_headers) as bob_ws,
    ):
        await _until_user_subscribers(redis, alice, 1)
        await _until_user_subscribers(redis, bob, 1)
        alice_jobs = [await _queued_job(container, alice, token_id) for _ in range(3)]
        bob_jobs = [await _queued_job(container, bob, token_id) for _ in range(3)]
        for job_id in alice_jobs + bob_jobs:
            await _deliver(container, job_id, Started())
        # Produced by process 'b', received on process 'a'.
        cancelled = await httpx.AsyncClient(base_url=feed_servers["b"]).post(
            f"/v1/jobs/{alice_jobs[0]}/cancel", headers=alice_headers
        )
        assert cancelled.status_code == 200, cancelled.text
        # Each job's first report also records its dispatch (Job.note_reached_server).
        alice_first = await _events(alice_ws, 10)
        bob_events = await _events(bob_ws, 9)

    # Alice is away: her jobs move on meanwhile.
    for job_id in alice_jobs[1:]:
        await _deliver(container, job_id, Progress(50, "features"))
    async with _socket(feed_servers["b"], alice_headers, cursor=alice_first[3]["cursor"]) as resumed_ws:
        resumed = await _events(resumed_ws, 8)

    assert {UUID(e["data"]["job_id"]) for e in alice_first + resumed} == set(alice_jobs)
    assert {UUID(e["data"]["job_id"]) for e in bob_events} == set(bob_jobs)
    assert _cursors(alice_first) == list(range(1, 11))
    assert _cursors(bob_events) == list(range(1, 10))
    assert _cursors(resumed) == list(range(5, 13))
    assert resumed[:6] == alice_first[4:]
    assert [e["event"] for e in alice_first] == ["queued"] * 3 + ["dispatched", "started"] * 3 + ["cancelled"]
    assert [e["event"] for e in resumed[6:]] == ["progress", "progress"]
    assert all(e["data"]["cursor"] == e["cursor"] for e in alice_first + resumed)


async def test_the_sse_feed_resumes_after_last_event_id_with_the_same_cursors(
    feed_servers: dict[str, str],
    client: httpx.AsyncClient,
    container: Container,
    sign_up: SignUp,
    admin_headers: dict[str, str],
) -> None:
    token_id = await _token_id(client, admin_headers)
    headers, user = await _user(client, sign_up)
    for _ in range(2):
        await _deliver(container, await _queued_job(container, user, token_id), Started())

    ticket = await client.post("/v1/events/tickets", headers=headers)
    assert ticket.status_code == 201, ticket.text
    ids: list[str] = []
    async with (
        httpx.AsyncClient(base_url=feed_servers["a"], timeout=httpx.Timeout(WAIT, read=None)) as http,
        http.stream("GET", ticket.json()["events_url"], headers={"Last-Event-ID": "1"}) as response,
    ):
        assert response.status_code == 200
        async with asyncio.timeout(WAIT):
            async for line in response.aiter_lines():
                if line.startswith("id:"):
                    ids.append(line.removeprefix("id:").strip())
                if len(ids) == 3:
                    break

    assert ids == ["2", "3", "4"]


async def test_a_client_that_stops_reading_is_closed_with_4408(
    feed_servers: dict[str, str],
    client: httpx.AsyncClient,
    container: Container,
    sign_up: SignUp,
    admin_headers: dict[str, str],
    engine: AsyncEngine,
) -> None:
    token_id = await _token_id(client, admin_headers)
    headers, user = await _user(client, sign_up)
    job_id = await _queued_job(container, user, token_id)
    stored = 3000
    async with engine.begin() as connection:  # a history to replay of 12 MB, more than sockets buffer
        await connection.execute(
            text(
                "INSERT INTO job_events (job_id, sequence, type, data, created_at, user_id, feed_sequence) "
                "SELECT :job, n, 'progress', jsonb_build_object('stage', repeat('x', 4000)), now(), :user, n "
                "FROM generate_series(2, :last) AS n"
            ),
            {"job": job_id, "user": user, "last": stored},
        )
        await connection.execute(
            text("UPDATE user_event_counters SET last_sequence = :last WHERE user_id = :user"),
            {"user": user, "last": stored},
        )
    before = await _closes(feed_servers["slow"], "4408")

    # Uncompressed, so the bytes on the wire are what the server sends (deflate would shrink the
    # repetitive test data a hundredfold), and a small receive buffer: the client stops reading.
    async with _socket(feed_servers["slow"], headers, receive_buffer=4096) as ws:
        async with asyncio.timeout(WAIT * 3):
            while True:  # until the server has given up on this client
                if await _closes(feed_servers["slow"], "4408") > before:
                    break
                await asyncio.sleep(0.1)
        received = 0
        code = None
        async with asyncio.timeout(WAIT * 3):
            try:
                while True:
                    await ws.recv()
                    received += 1
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd is not None else None

    assert code == 4408
    assert received < stored


async def _closes(base_url: str, code: str) -> float:
    """How many feeds the process closed with ``code`` (its metrics)."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        response = await http.get("/metrics")
    for line in response.text.splitlines():
        if line.startswith(f'voicepractice_feed_closes_total{{code="{code}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.parametrize("ticket", ["garbage", "a.b.c", "x" * 5000])
async def test_a_bad_ticket_closes_the_socket_with_4401(feed_servers: dict[str, str], ticket: str) -> None:
    async with _socket(feed_servers["a"], ticket=ticket) as ws:
        assert await _close_code(ws) == 4401


async def test_no_credential_or_a_job_streams_ticket_closes_with_4401_and_a_feed_ticket_opens(
    feed_servers: dict[str, str],
    client: httpx.AsyncClient,
    container: Container,
    sign_up: SignUp,
    admin_headers: dict[str, str],
) -> None:
    token_id = await _token_id(client, admin_headers)
    headers, user = await _user(client, sign_up)
    job_id = await _queued_job(container, user, token_id)
    job_ticket = (await client.post(f"/v1/jobs/{job_id}/events/tickets", headers=headers)).json()["ticket"]
    feed_ticket = (await client.post("/v1/events/tickets", headers=headers)).json()["ticket"]

    async with _socket(feed_servers["a"]) as anonymous:
        assert await _close_code(anonymous) == 4401
    async with _socket(feed_servers["a"], ticket=job_ticket) as wrong_audience:
        assert await _close_code(wrong_audience) == 4401
    async with _socket(feed_servers["a"], ticket=feed_ticket) as ws:
        [queued] = await _events(ws, 1)
    assert (queued["event"], queued["data"]["job_id"]) == ("queued", str(job_id))


@pytest.mark.parametrize("cursor", ["-1", "abc", "9" * 30])
async def test_a_malformed_cursor_closes_with_4400(
    feed_servers: dict[str, str], client: httpx.AsyncClient, sign_up: SignUp, cursor: str
) -> None:
    headers, _ = await _user(client, sign_up)
    async with _socket(feed_servers["a"], headers, cursor=cursor) as ws:
        assert await _close_code(ws) == 4400


@pytest.mark.parametrize(
    ("where", "cursor"),
    [("query", "-1"), ("query", "abc"), ("query", "9" * 30), ("header", "abc"), ("header", "1.5")],
)
async def test_a_malformed_cursor_on_the_sse_feed_is_a_client_error(
    feed_servers: dict[str, str], client: httpx.AsyncClient, sign_up: SignUp, where: str, cursor: str
) -> None:
    # The feed is left out of the OpenAPI fuzz (a valid request opens a stream that never ends), so its
    # hostile inputs are sent here: never a 500, never an open stream.
    headers, _ = await _user(client, sign_up)
    params = {"cursor": cursor} if where == "query" else {}
    sent = {**headers, "Last-Event-ID": cursor} if where == "header" else headers
    async with (
        httpx.AsyncClient(base_url=feed_servers["a"], timeout=WAIT) as http,
        http.stream("GET", "/v1/events", params=params, headers=sent) as response,
    ):
        body = await response.aread() if response.status_code != 200 else b"(a stream opened)"
    assert 400 <= response.status_code < 500, (response.status_code, body[:300])


async def test_an_access_token_that_expires_closes_the_socket_with_4401(
    feed_servers: dict[str, str], sign_up: SignUp, client: httpx.AsyncClient
) -> None:
    await sign_up("brief@example.com")
    async with httpx.AsyncClient(base_url=feed_servers["brief"]) as brief:
        headers = await log_in(brief, "brief@example.com", "correct horse battery")
    async with _socket(feed_servers["brief"], headers) as ws:
        heartbeat = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        assert await _close_code(ws) == 4401
    assert heartbeat == {"type": "heartbeat"}


@pytest.mark.parametrize("credential", ["bearer", "ticket"])
async def test_the_sse_feed_ends_when_its_credential_expires_and_the_same_credential_is_then_401(
    feed_servers: dict[str, str], sign_up: SignUp, credential: str
) -> None:
    brief, email = feed_servers["brief"], f"expiring-{credential}@example.com"
    await sign_up(email)
    async with httpx.AsyncClient(base_url=brief, timeout=WAIT) as http:
        bearer = await log_in(http, email, "correct horse battery")  # 4 s, from the 'brief' process
        path, headers = "/v1/events", bearer
        if credential == "ticket":
            path, headers = (await http.post("/v1/events/tickets", headers=bearer)).json()["events_url"], {}

    async with open_stream(brief, path, headers) as stream:
        messages = await until_closed(stream)
    reopened = await reopening_status(brief, path, headers)

    assert messages[0].get("") == "keep-alive"
    assert messages[-1] == {"": CREDENTIAL_EXPIRED}
    assert reopened == 401


async def test_the_sse_feed_is_in_the_openapi_document_and_describes_the_websocket(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/v1/openapi.json")).json()

    operation = schema["paths"]["/v1/events"]["get"]
    assert "/v1/notifications" in operation["description"]
    assert "4408" in operation["description"]
    assert "/v1/events/tickets" in schema["paths"]


async def test_cursor_now_starts_the_feed_at_the_present(
    feed_servers: dict[str, str],
    client: httpx.AsyncClient,
    container: Container,
    sign_up: SignUp,
    admin_headers: dict[str, str],
    redis: Redis,
) -> None:
    token_id = await _token_id(client, admin_headers)
    headers, user = await _user(client, sign_up)
    await _queued_job(container, user, token_id)  # place 1: history, not news

    async with _socket(feed_servers["b"], headers, cursor="now") as ws:
        await _until_user_subscribers(redis, user, 1)
        later = await _queued_job(container, user, token_id)
        [news] = await _events(ws, 1)

    assert (news["cursor"], news["data"]["job_id"]) == ("2", str(later))
