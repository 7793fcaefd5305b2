"""A job's progress over Server-Sent Events: replay, resume, access, and live events across API processes.

Replays of finished jobs run in-process (ASGITransport buffers a response until it ends). Live streams
need real servers: the API processes below share nothing but Postgres and Redis.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from redis.asyncio import Redis

from adapters.events.redis_fanout import job_channel
from application.analysis.webhooks import (
    AnalysisEvent,
    Completed,
    Progress,
    Started,
    WebhookDelivery,
)
from domain.analysis.jobs import Job, Recording
from domain.analysis.results import AnalysisResult
from domain.catalog import ReferenceKind
from entrypoints.bootstrap import Container
from entrypoints.http.controllers.job_events import CREDENTIAL_EXPIRED, RECONNECT_DELAY_MS, SHUTTING_DOWN
from entrypoints.settings import Settings
from tests.support.api_client import SignUp, log_in
from tests.support.full_system import free_port
from tests.support.processes import ServiceProcess, api_process
from tests.support.recordings import tone

WAIT = 10.0
DEFAULT_HEARTBEAT_SECONDS = 15.0
SseMessage = dict[str, str]
# The first report on a queued job records its dispatch (Job.note_reached_server).
FINISHED_JOB_EVENTS = ["queued", "dispatched", "started", "progress", "completed"]


# --- building jobs and their history ---------------------------------------------------------------


async def _user(client: httpx.AsyncClient, sign_up: SignUp) -> tuple[dict[str, str], UUID]:
    headers = await sign_up()
    me = await client.get("/v1/auth/me", headers=headers)
    assert me.status_code == 200, me.text
    return headers, UUID(me.json()["id"])


async def _token_id(client: httpx.AsyncClient, admin: dict[str, str]) -> UUID:
    actor = await client.post("/v1/actors", json={"name": "Meryl Streep"}, headers=admin)
    assert actor.status_code == 201, actor.text
    body = {"actor_id": actor.json()["id"], "movie_title": "Film", "movie_year": 1999, "text": "Hello there"}
    token = await client.post("/v1/tokens", json=body, headers=admin)
    assert token.status_code == 201, token.text
    return UUID(token.json()["id"])


async def _queued_job(container: Container, user_id: UUID, token_id: UUID, *, sent: bool = False) -> UUID:
    """A job whose recording is stored: its history starts with the queued event (sequence 1), then,
    if ``sent``, the relay's ``dispatched`` (sequence 2)."""
    job_id = uuid4()
    recording = Recording(f"recordings/{job_id}.wav", "audio/wav", 1.5, 48_000)
    job = Job.create(
        job_id,
        user_id,
        ReferenceKind.TOKEN,
        token_id,
        datetime.now(UTC),
        recording,
        deadline=timedelta(hours=1),
    )
    if sent:
        job.mark_dispatched(datetime.now(UTC), timedelta(hours=1))
    async with container.unit_of_work() as uow:
        await uow.jobs.add(job)
        await uow.commit()
    return job_id


async def _deliver(container: Container, job_id: UUID, event: AnalysisEvent) -> None:
    """Apply an analysis server's webhook as the API does: persist, then publish through Redis."""
    await container.webhooks.receive(WebhookDelivery(f"msg_{uuid4().hex}", job_id, "analysis", event))


RESULT = AnalysisResult(overall=82.0, scores={"pronunciation": 80.0, "intonation": 84.0})


async def _finished_job(container: Container, user_id: UUID, token_id: UUID) -> UUID:
    job_id = await _queued_job(container, user_id, token_id)
    for event in (Started(), Progress(40, "features"), Completed(RESULT)):
        await _deliver(container, job_id, event)
    return job_id


@pytest.fixture
async def owner(client: httpx.AsyncClient, sign_up: SignUp) -> tuple[dict[str, str], UUID]:
    return await _user(client, sign_up)


@pytest.fixture
async def token_id(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> UUID:
    return await _token_id(client, admin_headers)


@pytest.fixture
async def finished_job(container: Container, owner: tuple[dict[str, str], UUID], token_id: UUID) -> UUID:
    return await _finished_job(container, owner[1], token_id)


# --- reading Server-Sent Events -------------------------------------------------------------------


def parse_sse(text: str) -> list[SseMessage]:
    """Messages as field -> value (comments under ':'), per the SSE format with CRLF or LF lines."""
    messages: list[SseMessage] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if block.strip():
            messages.append(_parse_block(block))
    return messages


def _parse_block(block: str) -> SseMessage:
    message: SseMessage = {}
    for line in block.split("\n"):
        field, _, value = line.partition(":")
        message[field] = value.removeprefix(" ")
    return message


def _events(messages: list[SseMessage]) -> list[SseMessage]:
    return [message for message in messages if "event" in message]


class SseStream:
    """An open event stream from a real server, read message by message with a bound on every wait."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next_message(self, within: float = WAIT) -> SseMessage | None:
        """The next message, or None once the server closed the stream."""
        block: list[str] = []
        async with asyncio.timeout(within):
            async for line in self._lines:
                if line:
                    block.append(line)
                elif block:
                    return _parse_block("\n".join(block))
        return None

    async def next_event(self, within: float = WAIT) -> SseMessage | None:
        async with asyncio.timeout(within):
            while (message := await self.next_message(within)) is not None:
                if "event" in message:
                    return message
        return None


@asynccontextmanager
async def open_stream(base_url: str, path: str, headers: dict[str, str]) -> AsyncIterator[SseStream]:
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(WAIT, read=None)) as http,
        http.stream("GET", path, headers={**headers, "Accept": "text/event-stream"}) as response,
    ):
        assert response.status_code == 200, (await response.aread()).decode()
        yield SseStream(response)


async def until_closed(stream: SseStream) -> list[SseMessage]:
    """Every message up to the server's end of the stream (bounded)."""
    messages: list[SseMessage] = []
    async with asyncio.timeout(WAIT):
        while (message := await stream.next_message()) is not None:
            messages.append(message)
    return messages


async def reopening_status(base_url: str, path: str, headers: dict[str, str]) -> int:
    """The status a reconnection gets (an EventSource sends its last id again), without reading on."""
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=WAIT) as http,
        http.stream("GET", path, headers={**headers, "Last-Event-ID": "1"}) as response,
    ):
        return response.status_code


# --- in-process: finished jobs, resumption, access -----------------------------------------------


async def test_a_finished_jobs_stream_replays_every_event_in_order_and_closes(
    client: httpx.AsyncClient, owner: tuple[dict[str, str], UUID], finished_job: UUID
) -> None:
    response = await client.get(f"/v1/jobs/{finished_job}/events", headers=owner[0])

    events = _events(parse_sse(response.text))
    assert [(e["id"], e["event"]) for e in events] == [
        (str(n), kind) for n, kind in enumerate(FINISHED_JOB_EVENTS, start=1)
    ]


async def test_an_events_data_is_json_of_its_fields_with_job_id_and_sequence(
    client: httpx.AsyncClient, owner: tuple[dict[str, str], UUID], finished_job: UUID
) -> None:
    response = await client.get(f"/v1/jobs/{finished_job}/events", headers=owner[0])

    progress = next(e for e in _events(parse_sse(response.text)) if e["event"] == "progress")
    assert json.loads(progress["data"]) == {
        "status": "processing",
        "progress": 40,
        "stage": "features",
        "job_id": str(finished_job),
        "sequence": 4,
    }


async def test_the_first_message_carries_a_retry_hint(
    client: httpx.AsyncClient, owner: tuple[dict[str, str], UUID], finished_job: UUID
) -> None:
    response = await client.get(f"/v1/jobs/{finished_job}/events", headers=owner[0])

    messages = parse_sse(response.text)
    assert int(messages[0]["retry"]) > 0
    assert all("retry" not in message for message in messages[1:])


async def test_the_stream_is_neither_cached_nor_buffered_by_proxies(
    client: httpx.AsyncClient, owner: tuple[dict[str, str], UUID], finished_job: UUID
) -> None:
    response = await client.get(f"/v1/jobs/{finished_job}/events", headers=owner[0])

    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"


async def test_last_event_id_resumes_with_exactly_the_missed_events(
    client: httpx.AsyncClient, owner: tuple[dict[str, str], UUID], finished_job: UUID
) -> None:
    response = await client.get(f"/v1/jobs/{finished_job}/events", headers={**owner[0], "Last-Event-ID": "2"})

    assert [e["id"] for e in _events(parse_sse(response.text))] == ["3", "4", "5"]


async def test_the_last_event_id_query_parameter_resumes_like_the_header(
    client: httpx.AsyncClient, owner: tuple[dict[str, str], UUID], finished_job: UUID
) -> None:
    response = await client.get(f"/v1/jobs/{finished_job}/events?last_event_id=3", headers=owner[0])

    assert [e["id"] for e in _events(parse_sse(response.text))] == ["4", "5"]


async def test_the_last_event_id_header_wins_over_the_query_parameter(
    client: httpx.AsyncClient, owner: tuple[dict[str, str], UUID], finished_job: UUID
) -> None:
    # An EventSource keeps its URL and sends the newer id in the header when it reconnects.
    response = await client.get(
        f"/v1/jobs/{finished_job}/events?last_event_id=1", headers={**owner[0], "Last-Event-ID": "3"}
    )

    assert [e["id"] for e in _events(parse_sse(response.text))] == ["4", "5"]


async def test_resuming_after_a_finished_jobs_last_event_is_204_so_clients_stop_reconnecting(
    client: httpx.AsyncClient, owner: tuple[dict[str, str], UUID], finished_job: UUID
) -> None:
    response = await client.get(f"/v1/jobs/{finished_job}/events", headers={**owner[0], "Last-Event-ID": "5"})

    assert (response.status_code, response.content) == (204, b"")


async def test_the_seed_designs_progress_route_serves_the_same_stream(
    client: httpx.AsyncClient, owner: tuple[dict[str, str], UUID], finished_job: UUID
) -> None:
    canonical = await client.get(f"/v1/jobs/{finished_job}/events", headers=owner[0])
    alias = await client.get(f"/tokens/analysis-progress/{finished_job}", headers=owner[0])

    assert (alias.status_code, alias.text) == (200, canonical.text)
    assert alias.headers["link"] == f'</v1/jobs/{finished_job}/events>; rel="successor-version"'
    assert alias.headers["deprecation"].startswith("@")


async def test_another_users_job_is_404_problem(
    client: httpx.AsyncClient, sign_up: SignUp, finished_job: UUID
) -> None:
    stranger, _ = await _user(client, sign_up)

    response = await client.get(f"/v1/jobs/{finished_job}/events", headers=stranger)

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_an_unknown_job_is_404_problem(
    client: httpx.AsyncClient, owner: tuple[dict[str, str], UUID]
) -> None:
    response = await client.get(f"/v1/jobs/{uuid4()}/events", headers=owner[0])

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("bad_id", ["abc", "-1", "2.5", "0x10", "99999999999", "9" * 5000])
async def test_a_last_event_id_that_is_not_a_sequence_is_400_problem(
    client: httpx.AsyncClient, owner: tuple[dict[str, str], UUID], finished_job: UUID, bad_id: str
) -> None:
    response = await client.get(
        f"/v1/jobs/{finished_job}/events", headers={**owner[0], "Last-Event-ID": bad_id}
    )

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_bad_last_event_id_query_parameter_is_400_problem(
    client: httpx.AsyncClient, owner: tuple[dict[str, str], UUID], finished_job: UUID
) -> None:
    response = await client.get(f"/v1/jobs/{finished_job}/events?last_event_id=-3", headers=owner[0])

    assert response.status_code == 400


async def test_the_stream_needs_sign_in(client: httpx.AsyncClient, finished_job: UUID) -> None:
    response = await client.get(f"/v1/jobs/{finished_job}/events")

    assert response.status_code == 401


# --- stream tickets: EventSource cannot send an Authorization header ------------------------------


async def _ticket(client: httpx.AsyncClient, headers: dict[str, str], job_id: UUID) -> dict[str, object]:
    issued = await client.post(f"/v1/jobs/{job_id}/events/tickets", headers=headers)
    assert issued.status_code == 201, issued.text
    body: dict[str, object] = issued.json()
    return body


async def test_a_stream_ticket_opens_its_jobs_stream_without_an_authorization_header(
    client: httpx.AsyncClient, owner: tuple[dict[str, str], UUID], finished_job: UUID
) -> None:
    ticket = await _ticket(client, owner[0], finished_job)

    by_url = await client.get(str(ticket["url"]))
    by_param = await client.get(f"/v1/jobs/{finished_job}/events", params={"ticket": ticket["ticket"]})

    assert ticket["expires_in"] == 3600
    assert by_url.status_code == 200, by_url.text
    assert [m["event"] for m in _events(parse_sse(by_url.text))] == FINISHED_JOB_EVENTS
    assert by_param.text == by_url.text


async def test_a_stream_ticket_resumes_with_the_last_event_id_header_like_a_bearer_token(
    client: httpx.AsyncClient, owner: tuple[dict[str, str], UUID], finished_job: UUID
) -> None:
    ticket = await _ticket(client, owner[0], finished_job)

    response = await client.get(str(ticket["url"]), headers={"Last-Event-ID": "2"})

    assert [m["id"] for m in _events(parse_sse(response.text))] == ["3", "4", "5"]


async def test_a_stream_ticket_opens_no_other_job(
    client: httpx.AsyncClient,
    container: Container,
    owner: tuple[dict[str, str], UUID],
    token_id: UUID,
    finished_job: UUID,
) -> None:
    other_job = await _finished_job(container, owner[1], token_id)
    ticket = await _ticket(client, owner[0], finished_job)

    response = await client.get(f"/v1/jobs/{other_job}/events", params={"ticket": ticket["ticket"]})

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_stream_ticket_is_not_an_access_token(
    client: httpx.AsyncClient, owner: tuple[dict[str, str], UUID], finished_job: UUID
) -> None:
    ticket = await _ticket(client, owner[0], finished_job)

    as_bearer = await client.get(
        f"/v1/jobs/{finished_job}", headers={"Authorization": f"Bearer {ticket['ticket']}"}
    )
    access_token = owner[0]["Authorization"].removeprefix("Bearer ")
    token_as_ticket = await client.get(f"/v1/jobs/{finished_job}/events", params={"ticket": access_token})

    assert as_bearer.status_code == 401
    assert token_as_ticket.status_code == 401


@pytest.mark.parametrize("ticket", ["", "not-a-ticket", "a.b.c", "x" * 4096])
async def test_a_forged_or_empty_stream_ticket_is_401_problem(
    client: httpx.AsyncClient, finished_job: UUID, ticket: str
) -> None:
    response = await client.get(f"/v1/jobs/{finished_job}/events", params={"ticket": ticket})

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_an_overlong_stream_ticket_is_400_problem(
    client: httpx.AsyncClient, finished_job: UUID
) -> None:
    response = await client.get(f"/v1/jobs/{finished_job}/events", params={"ticket": "x" * 5000})

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_only_the_jobs_owner_gets_a_stream_ticket(
    client: httpx.AsyncClient, sign_up: SignUp, finished_job: UUID
) -> None:
    stranger, _ = await _user(client, sign_up)

    for_stranger = await client.post(f"/v1/jobs/{finished_job}/events/tickets", headers=stranger)
    anonymous = await client.post(f"/v1/jobs/{finished_job}/events/tickets")

    assert for_stranger.status_code == 404
    assert anonymous.status_code == 401


# --- real API processes: live events, heartbeats, disconnects -------------------------------------


def _stop(process: ServiceProcess) -> None:
    process.terminate()
    try:
        process.wait(10.0)
    except Exception:
        process.kill()


BRIEF_CREDENTIALS = {"ACCESS_TOKEN_TTL_SECONDS": "4", "STREAM_TICKET_TTL_SECONDS": "4"}


def _api_environment(database_url: str, redis_url: str, storage: Path, heartbeat: float) -> dict[str, str]:
    return {
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STORAGE_BACKEND": "local",
        "LOCAL_STORAGE_DIR": str(storage),
        "SECRET_KEY": Settings().secret_key,
        "LOG_LEVEL": "WARNING",
        "SSE_HEARTBEAT_SECONDS": str(heartbeat),
    }


@pytest.fixture(scope="module")
def api_servers(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """Base URLs of three API processes: 'a' and 'b' with the default heartbeat, 'quick' with 1 s,
    whose access tokens and stream tickets expire after 4 s."""
    logs, storage = tmp_path_factory.mktemp("api-logs"), tmp_path_factory.mktemp("storage")
    default = _api_environment(database_url, redis_url, storage, DEFAULT_HEARTBEAT_SECONDS)
    environments = {
        "a": default,
        "b": default,
        "quick": {
            **_api_environment(database_url, redis_url, storage, 1.0),
            **BRIEF_CREDENTIALS,
        },
    }
    ports = {name: free_port() for name in environments}
    processes = {
        name: api_process(environment, logs / name, ports[name]) for name, environment in environments.items()
    }
    try:
        with ThreadPoolExecutor(len(processes)) as starting:
            for started in [starting.submit(process.start, 60.0) for process in processes.values()]:
                started.result()
        yield {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    finally:
        for process in processes.values():
            _stop(process)


@pytest.fixture
def stoppable_api(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[tuple[str, ServiceProcess]]:
    """An API process of this test's own, for the test to stop."""
    port = free_port()
    environment = _api_environment(database_url, redis_url, tmp_path / "storage", DEFAULT_HEARTBEAT_SECONDS)
    process = api_process(environment, tmp_path / "logs", port)
    try:
        process.start(timeout=60.0)
        yield f"http://127.0.0.1:{port}", process
    finally:
        _stop(process)


async def _until_subscribers(redis: Redis, job_id: UUID, expected: int) -> int:
    """Subscribers of the job's channel across all processes, once it is ``expected`` (bounded wait)."""
    async with asyncio.timeout(WAIT):
        while True:
            [(_, count)] = await redis.pubsub_numsub(job_channel(job_id))
            if count == expected:
                return int(count)
            await asyncio.sleep(0.02)


@pytest.fixture
async def live_job(container: Container, owner: tuple[dict[str, str], UUID], token_id: UUID) -> UUID:
    return await _queued_job(container, owner[1], token_id, sent=True)


async def test_a_live_stream_replays_history_then_receives_events_published_by_another_process(
    api_servers: dict[str, str],
    container: Container,
    owner: tuple[dict[str, str], UUID],
    live_job: UUID,
    redis: Redis,
) -> None:
    async with open_stream(api_servers["a"], f"/v1/jobs/{live_job}/events", owner[0]) as stream:
        replayed = [await stream.next_event(), await stream.next_event()]
        await _until_subscribers(redis, live_job, 1)

        # This test process plays the webhook-receiving process; the heartbeat (15 s) is far off, so
        # the event can only have come live through Redis, not from a database catch-up.
        await _deliver(container, live_job, Progress(30, "decoding"))
        live = await stream.next_event(within=DEFAULT_HEARTBEAT_SECONDS / 2)

    assert None not in replayed
    assert live is not None
    assert [(event["id"], event["event"]) for event in [*replayed, live] if event] == [
        ("1", "queued"),
        ("2", "dispatched"),
        ("3", "progress"),
    ]


async def test_a_direct_uploads_stream_receives_queued_live_within_a_second_of_submit(
    api_servers: dict[str, str],
    client: httpx.AsyncClient,
    owner: tuple[dict[str, str], UUID],
    reference_token: dict[str, Any],
    redis: Redis,
) -> None:
    recording = tone(1.0)
    started = await client.post(
        f"/v1/tokens/{reference_token['id']}/uploads",
        json={"content_type": "audio/wav", "size_bytes": len(recording)},
        headers=owner[0],
    )
    assert started.status_code == 201, started.text
    job_id, upload = UUID(started.json()["job"]["id"]), started.json()["upload"]
    put = await client.put(
        upload["url"].removeprefix("http://testserver.local"), content=recording, headers=upload["headers"]
    )
    assert put.status_code in (200, 204), put.text

    async with open_stream(api_servers["a"], f"/v1/jobs/{job_id}/events", owner[0]) as stream:
        opening = await stream.next_message()
        await _until_subscribers(redis, job_id, 1)
        # The heartbeat (15 s) is far off: only a live publish reaches the stream within a second.
        submitted = await client.post(f"/v1/jobs/{job_id}/submit", headers=owner[0])
        queued = await stream.next_event(within=1.0)

    assert (opening or {}).get("") == "keep-alive"
    assert submitted.status_code == 202, submitted.text
    assert queued is not None
    assert (queued["id"], queued["event"]) == ("1", "queued")


async def test_clients_on_two_api_processes_both_receive_a_live_event(
    api_servers: dict[str, str],
    container: Container,
    owner: tuple[dict[str, str], UUID],
    live_job: UUID,
    redis: Redis,
) -> None:
    path, headers = f"/v1/jobs/{live_job}/events", {**owner[0], "Last-Event-ID": "2"}
    async with (
        open_stream(api_servers["a"], path, headers) as on_a,
        open_stream(api_servers["b"], path, headers) as on_b,
    ):
        await _until_subscribers(redis, live_job, 2)
        await _deliver(container, live_job, Started())
        received = [await on_a.next_event(), await on_b.next_event()]

    assert [message and message["event"] for message in received] == ["started", "started"]


async def test_a_live_stream_closes_after_the_terminal_event(
    api_servers: dict[str, str],
    container: Container,
    owner: tuple[dict[str, str], UUID],
    live_job: UUID,
    redis: Redis,
) -> None:
    headers = {**owner[0], "Last-Event-ID": "2"}
    async with open_stream(api_servers["a"], f"/v1/jobs/{live_job}/events", headers) as stream:
        await _until_subscribers(redis, live_job, 1)
        await _deliver(container, live_job, Completed(RESULT))
        terminal = await stream.next_event()
        after = await stream.next_message()

    assert (terminal or {}).get("event") == "completed"
    assert after is None


async def test_a_quiet_stream_sends_a_keep_alive_comment_every_heartbeat(
    api_servers: dict[str, str], owner: tuple[dict[str, str], UUID], live_job: UUID
) -> None:
    headers = {**owner[0], "Last-Event-ID": "2"}
    async with open_stream(api_servers["quick"], f"/v1/jobs/{live_job}/events", headers) as stream:
        opening = await stream.next_message()
        started = asyncio.get_running_loop().time()
        heartbeat = await stream.next_message(within=5.0)
        waited = asyncio.get_running_loop().time() - started

    assert (opening or {}).get("") == "keep-alive"
    assert heartbeat == {"": "keep-alive"}
    assert 0.5 < waited < 3.0


async def test_a_client_disconnecting_releases_its_subscription(
    api_servers: dict[str, str], owner: tuple[dict[str, str], UUID], live_job: UUID, redis: Redis
) -> None:
    async with open_stream(api_servers["a"], f"/v1/jobs/{live_job}/events", owner[0]):
        await _until_subscribers(redis, live_job, 1)

    assert await _until_subscribers(redis, live_job, 0) == 0


async def test_a_stream_ends_with_a_quick_retry_hint_when_its_server_shuts_down(
    stoppable_api: tuple[str, ServiceProcess], owner: tuple[dict[str, str], UUID], live_job: UUID
) -> None:
    base_url, process = stoppable_api
    headers = {**owner[0], "Last-Event-ID": "2"}
    async with open_stream(base_url, f"/v1/jobs/{live_job}/events", headers) as stream:
        await stream.next_message()
        process.terminate()
        # Well before uvicorn's graceful shutdown (20 s) would cut the stream.
        goodbye = await stream.next_message(within=5.0)
        after = await stream.next_message(within=5.0)

    assert goodbye is not None
    assert (goodbye[""], int(goodbye["retry"]) < RECONNECT_DELAY_MS, after) == (SHUTTING_DOWN, True, None)


@pytest.mark.parametrize("credential", ["bearer", "ticket"])
async def test_a_live_stream_ends_when_its_credential_expires_and_the_same_credential_is_then_401(
    api_servers: dict[str, str],
    client: httpx.AsyncClient,
    container: Container,
    sign_up: SignUp,
    token_id: UUID,
    credential: str,
) -> None:
    quick, email = api_servers["quick"], f"expiring-{credential}@example.com"
    await sign_up(email)
    async with httpx.AsyncClient(base_url=quick, timeout=WAIT) as http:
        bearer = await log_in(http, email, "correct horse battery")  # 4 s, from the 'quick' process
        user_id = UUID((await http.get("/v1/auth/me", headers=bearer)).json()["id"])
        job_id = await _queued_job(container, user_id, token_id, sent=True)
        path, headers = f"/v1/jobs/{job_id}/events", bearer
        if credential == "ticket":
            ticket = await http.post(f"/v1/jobs/{job_id}/events/tickets", headers=bearer)
            path, headers = ticket.json()["url"], {}

    async with open_stream(quick, path, headers) as stream:
        messages = await until_closed(stream)
    reopened = await reopening_status(quick, path, headers)

    assert [message.get("event") for message in messages[:2]] == ["queued", "dispatched"]
    assert messages[-1] == {"": CREDENTIAL_EXPIRED}
    assert reopened == 401


async def _sse_connections(base_url: str, expected: float) -> float:
    """The instance's gauge once it reads ``expected`` (streams of earlier tests may still be ending)."""
    deadline = asyncio.get_running_loop().time() + WAIT
    async with httpx.AsyncClient(base_url=base_url, timeout=WAIT) as http:
        while True:
            scrape = await http.get("/metrics")
            [value] = [
                float(line.split()[-1])
                for line in scrape.text.splitlines()
                if line.startswith("voicepractice_sse_connections ")
            ]
            if value == expected or asyncio.get_running_loop().time() > deadline:
                return value
            await asyncio.sleep(0.05)


async def test_an_open_stream_is_counted_in_the_sse_connections_gauge(
    api_servers: dict[str, str], owner: tuple[dict[str, str], UUID], live_job: UUID
) -> None:
    async with open_stream(api_servers["b"], f"/v1/jobs/{live_job}/events", owner[0]) as stream:
        await stream.next_message()
        counted = await _sse_connections(api_servers["b"], expected=1)

    assert counted == 1


def test_parse_sse_reads_fields_comments_and_both_line_endings() -> None:
    text = ": keep-alive\r\nretry: 3000\r\n\r\nid: 1\nevent: queued\ndata: {}\n\n"

    assert parse_sse(text) == [
        {"": "keep-alive", "retry": "3000"},
        {"id": "1", "event": "queued", "data": "{}"},
    ]
