"""HttpAnalysisDispatcher over real HTTP: how each answer of an analysis server is classified."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from uuid_utils.compat import uuid7

from adapters.analysis.http_dispatcher import HttpAnalysisDispatcher
from application.ports.analysis import AnalysisRequest, DispatchError
from domain.analysis.jobs import RetryReason
from domain.catalog import ReferenceKind
from tests.support.full_system import free_port
from tests.support.stub_analysis_server import StubAnalysisServer

CLIENT_TIMEOUT_SECONDS = 0.5


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
async def transport() -> AsyncIterator[httpx.AsyncHTTPTransport]:
    async with httpx.AsyncHTTPTransport() as pooled:
        yield pooled


@pytest.fixture
def dispatcher(transport: httpx.AsyncHTTPTransport, stub: StubAnalysisServer) -> HttpAnalysisDispatcher:
    return HttpAnalysisDispatcher(transport, httpx.Timeout(CLIENT_TIMEOUT_SECONDS), stub.url, stub.url)


async def _failure(dispatcher: HttpAnalysisDispatcher) -> DispatchError:
    with pytest.raises(DispatchError) as raised:
        await dispatcher.dispatch(_request())
    return raised.value


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


async def test_a_503_is_retryable(dispatcher: HttpAnalysisDispatcher, stub: StubAnalysisServer) -> None:
    stub.answer(503)

    error = await _failure(dispatcher)

    assert (error.retryable, error.cause) == (True, RetryReason.BUSY)


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


async def test_a_refused_connection_is_retryable(transport: httpx.AsyncHTTPTransport) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    dispatcher = HttpAnalysisDispatcher(transport, httpx.Timeout(CLIENT_TIMEOUT_SECONDS), nowhere, nowhere)

    error = await _failure(dispatcher)

    assert (error.retryable, error.reason.startswith("connection failed")) == (True, True)
    assert error.cause is RetryReason.UNREACHABLE


async def test_each_answer_releases_its_connection_for_the_next_dispatch(stub: StubAnalysisServer) -> None:
    """One connection in the pool: a dispatch that left its answer unread would hold it, and the next
    would wait for it until the pool timeout."""
    async with httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=1)) as single:
        dispatcher = HttpAnalysisDispatcher(single, httpx.Timeout(CLIENT_TIMEOUT_SECONDS), stub.url, stub.url)
        requests = [_request() for _ in range(3)]
        await dispatcher.dispatch(requests[0])
        stub.answer(400)
        assert (await _failure(dispatcher)).retryable is False
        stub.answer(202)
        await dispatcher.dispatch(requests[2])

    assert [stub.deliveries(request.job_id) for request in (requests[0], requests[2])] == [1, 1]
