"""HttpAnalysisDispatcher over real HTTP: how each answer of an analysis server is classified, and how
its pooled connections behave when the server drops them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from uuid_utils.compat import uuid7

from adapters.analysis.http_dispatcher import HttpAnalysisDispatcher, analysis_session
from application.ports.analysis import AnalysisRequest, DispatchError
from domain.analysis.jobs import RetryReason
from domain.catalog import ReferenceKind
from tests.support.full_system import free_port
from tests.support.stub_analysis_server import StubAnalysisServer
from tests.support.threaded_server import listening_socket, read_body, serve_in_thread, stop_serving
from tests.support.tls import IssuedCertificates, issue_certificates

CLIENT_TIMEOUT_SECONDS = 0.5
# Only a guard against a dispatch that never returns (the test fails instead of hanging the suite).
HANG_GUARD_SECONDS = 10


def _request() -> AnalysisRequest:
    return AnalysisRequest(
        job_id=uuid7(),
        kind=ReferenceKind.TOKEN,
        recording_url="http://storage.test/recordings/x.wav",
        recording_content_type="audio/wav",
        reference_url="http://storage.test/references/y.wav",
        reference_content_type="audio/wav",
        callback_url="http://api.test/webhooks/analysis",
        deadline=datetime.now(UTC) + timedelta(minutes=2),
        text="Hello there",
    )


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with analysis_session(timeout_seconds=CLIENT_TIMEOUT_SECONDS) as pooled:
        yield pooled


@pytest.fixture
def dispatcher(session: aiohttp.ClientSession, stub: StubAnalysisServer) -> HttpAnalysisDispatcher:
    return HttpAnalysisDispatcher(session, stub.url, stub.url)


async def _failure(dispatcher: HttpAnalysisDispatcher) -> DispatchError:
    with pytest.raises(DispatchError) as raised:
        async with asyncio.timeout(HANG_GUARD_SECONDS):
            await dispatcher.dispatch(_request())
    return raised.value


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def _raw_server(handler: Handler) -> AsyncIterator[str]:
    """A TCP server on 127.0.0.1 that does what ``handler`` does with each connection: for the
    misbehaviours a well-made HTTP server will not show (closing without a word, for one)."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> bool:
    """Read one request (head, then a body of its Content-Length); False when the client closed."""
    head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
    if not head:
        return False
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    await reader.readexactly(length)
    return True


ACCEPTED = b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


async def test_a_202_delivers_the_request(
    dispatcher: HttpAnalysisDispatcher, stub: StubAnalysisServer
) -> None:
    request = _request()

    await dispatcher.dispatch(request)

    assert stub.deliveries(request.job_id) == 1


async def test_the_job_id_is_the_requests_idempotency_key(
    dispatcher: HttpAnalysisDispatcher, stub: StubAnalysisServer
) -> None:
    request = _request()

    await dispatcher.dispatch(request)

    assert stub.requests[0].headers["idempotency-key"] == str(request.job_id)


async def test_the_request_carries_the_servers_bearer_token(
    session: aiohttp.ClientSession, stub: StubAnalysisServer
) -> None:
    await HttpAnalysisDispatcher(session, stub.url, stub.url, auth_token="s3cret").dispatch(_request())

    assert stub.requests[0].headers["authorization"] == "Bearer s3cret"


async def test_a_400_is_a_permanent_failure(
    dispatcher: HttpAnalysisDispatcher, stub: StubAnalysisServer
) -> None:
    stub.answer(400)

    assert (await _failure(dispatcher)).retryable is False


async def test_a_429_is_retried_after_the_servers_retry_after(
    dispatcher: HttpAnalysisDispatcher, stub: StubAnalysisServer
) -> None:
    stub.answer(429, retry_after="7")

    error = await _failure(dispatcher)

    assert (error.retryable, error.retry_after, error.cause) == (True, timedelta(seconds=7), RetryReason.BUSY)


async def test_a_503_is_retried_after_the_servers_retry_after(
    dispatcher: HttpAnalysisDispatcher, stub: StubAnalysisServer
) -> None:
    stub.answer(503, retry_after="12")

    error = await _failure(dispatcher)

    assert (error.retryable, error.retry_after, error.cause) == (
        True,
        timedelta(seconds=12),
        RetryReason.BUSY,
    )


async def test_a_500_is_a_retryable_server_error(
    dispatcher: HttpAnalysisDispatcher, stub: StubAnalysisServer
) -> None:
    stub.answer(500)

    assert (await _failure(dispatcher)).cause is RetryReason.SERVER_ERROR


async def test_a_server_slower_than_the_timeout_is_retryable(
    dispatcher: HttpAnalysisDispatcher, stub: StubAnalysisServer
) -> None:
    stub.respond_after(CLIENT_TIMEOUT_SECONDS * 3)

    error = await _failure(dispatcher)

    assert (error.retryable, error.reason.startswith("timed out")) == (True, True)
    assert error.cause is RetryReason.TIMED_OUT


async def test_a_refused_connection_is_retryable(session: aiohttp.ClientSession) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"

    error = await _failure(HttpAnalysisDispatcher(session, nowhere, nowhere))

    assert (error.retryable, error.reason.startswith("connection failed")) == (True, True)
    assert error.cause is RetryReason.UNREACHABLE


async def test_a_redirect_is_not_followed(session: aiohttp.ClientSession, stub: StubAnalysisServer) -> None:
    """The request goes where it was configured to go; a 3xx is the server's mistake, not a new address."""
    location = f"{stub.url}/v1/analyses".encode()

    async def redirect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(
            b"HTTP/1.1 307 Temporary Redirect\r\nLocation: " + location + b"\r\nContent-Length: 0\r\n\r\n"
        )
        await writer.drain()
        writer.close()

    async with _raw_server(redirect) as url:
        error = await _failure(HttpAnalysisDispatcher(session, url, url))

    assert (error.retryable, stub.requests) == (False, [])


async def test_dispatches_in_a_row_reuse_one_connection(
    dispatcher: HttpAnalysisDispatcher, stub: StubAnalysisServer
) -> None:
    for _ in range(3):
        await dispatcher.dispatch(_request())

    assert len({received.client_port for received in stub.requests}) == 1


async def test_each_answer_releases_its_connection_for_the_next_dispatch(stub: StubAnalysisServer) -> None:
    """One connection in the pool: a dispatch that left its answer unread would hold it, and the next
    would wait for it until the pool timeout."""
    async with analysis_session(timeout_seconds=CLIENT_TIMEOUT_SECONDS, max_connections=1) as single:
        dispatcher = HttpAnalysisDispatcher(single, stub.url, stub.url)
        requests = [_request() for _ in range(3)]
        await dispatcher.dispatch(requests[0])
        stub.answer(400)
        assert (await _failure(dispatcher)).retryable is False
        stub.answer(202)
        await dispatcher.dispatch(requests[2])

    assert [stub.deliveries(request.job_id) for request in (requests[0], requests[2])] == [1, 1]


async def test_a_connection_the_server_closed_after_its_answer_is_not_reused(
    session: aiohttp.ClientSession,
) -> None:
    """The server drops each connection after answering, without saying so (no ``Connection: close``),
    as a server whose keep-alive expired does: the next dispatch goes out on a new connection."""
    connections = 0

    async def answer_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        if await _read_request(reader):
            writer.write(ACCEPTED)
            await writer.drain()
        writer.close()

    async with _raw_server(answer_then_close) as url:
        dispatcher = HttpAnalysisDispatcher(session, url, url)
        for _ in range(3):
            await asyncio.sleep(0.05)  # the server's close reaches the client before the next dispatch
            async with asyncio.timeout(HANG_GUARD_SECONDS):
                await dispatcher.dispatch(_request())

    assert connections == 3


async def test_a_connection_closed_before_the_answer_is_sent_once_more_then_retryable(
    session: aiohttp.ClientSession,
) -> None:
    received = 0

    async def close_without_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal received
        received += await _read_request(reader)
        writer.close()

    async with _raw_server(close_without_answer) as url:
        error = await _failure(HttpAnalysisDispatcher(session, url, url))

    assert (error.retryable, error.cause, received) == (True, RetryReason.UNREACHABLE, 2)


async def test_a_restarted_server_is_reached_again_on_a_new_connection(
    dispatcher: HttpAnalysisDispatcher, stub: StubAnalysisServer
) -> None:
    """The pooled connection dies with the server, and the loop has not seen it close (the stop blocks it)
    when the next dispatch takes it from the pool: that dispatch must still be delivered."""
    await dispatcher.dispatch(_request())
    stub.stop()
    stub.start()

    async with asyncio.timeout(HANG_GUARD_SECONDS):
        await dispatcher.dispatch(_request())

    assert len({received.client_port for received in stub.requests}) == 2


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[str, IssuedCertificates, list[bytes]]]:
    """An analysis server over TLS whose certificate a test authority signed: its URL, the certificates,
    and the bodies it received."""
    certificates = issue_certificates(tmp_path)
    received: list[bytes] = []

    async def accept(scope: dict[str, Any], receive: Any, send: Any) -> None:
        received.append(await read_body(receive))
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    listener = listening_socket()
    server, thread = serve_in_thread(
        accept,
        listener,
        name="TLS analysis server",
        ssl_certfile=str(certificates.certificate),
        ssl_keyfile=str(certificates.key),
    )
    yield f"https://127.0.0.1:{listener.getsockname()[1]}", certificates, received
    stop_serving(server, thread)


async def test_a_server_whose_certificate_is_not_trusted_is_not_sent_the_request(
    session: aiohttp.ClientSession, https_server: tuple[str, IssuedCertificates, list[bytes]]
) -> None:
    url, _, received = https_server

    error = await _failure(HttpAnalysisDispatcher(session, url, url))

    assert (error.retryable, error.cause, received) == (True, RetryReason.UNREACHABLE, [])


async def test_a_server_with_a_trusted_certificate_is_reached_over_tls(
    https_server: tuple[str, IssuedCertificates, list[bytes]],
) -> None:
    url, certificates, received = https_server
    request = _request()

    async with analysis_session(
        timeout_seconds=CLIENT_TIMEOUT_SECONDS, tls=certificates.trusting_client()
    ) as trusting:
        await HttpAnalysisDispatcher(trusting, url, url).dispatch(request)

    assert [json.loads(body)["job_id"] for body in received] == [str(request.job_id)]
