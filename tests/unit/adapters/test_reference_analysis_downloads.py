"""Downloading recordings: whole bodies only, a size cap, retries with backoff within a time budget for
what another try may mend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from adapters.reference_analysis.downloads import HttpAudioFetcher
from application.reference_analysis.ports import DownloadError

URL = "http://storage.test/recordings/job.webm"


class FakeTime:
    """A monotonic clock that only the fetcher's pauses move, and the pauses it took."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def _fetcher(
    handler: Callable[[httpx.Request], httpx.Response],
    time: FakeTime | None = None,
    retry_seconds: float = 1.0,
) -> HttpAudioFetcher:
    time = time or FakeTime()
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return HttpAudioFetcher(client, retry_seconds=retry_seconds, clock=time.clock, sleep=time.sleep)


class Answers:
    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.count = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        return self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]


async def _chunks(total: int) -> AsyncIterator[bytes]:
    for _ in range(total // 1000):
        yield b"x" * 1000


async def test_the_body_is_returned_whole() -> None:
    fetched = await _fetcher(Answers(httpx.Response(200, content=b"audio bytes"))).fetch(URL, 1000)

    assert fetched == b"audio bytes"


async def test_a_body_announced_over_the_limit_is_refused_as_too_large() -> None:
    answers = Answers(httpx.Response(200, content=b"x" * 2000))

    with pytest.raises(DownloadError) as refused:
        await _fetcher(answers).fetch(URL, 1000)
    assert refused.value.too_large


async def test_a_streamed_body_over_the_limit_is_refused_as_too_large() -> None:
    answers = Answers(httpx.Response(200, content=_chunks(5000)))

    with pytest.raises(DownloadError) as refused:
        await _fetcher(answers).fetch(URL, 1000)
    assert refused.value.too_large


async def test_a_missing_object_is_not_retried() -> None:
    answers = Answers(httpx.Response(404))

    with pytest.raises(DownloadError):
        await _fetcher(answers).fetch(URL, 1000)
    assert answers.count == 1


async def test_a_server_error_is_retried() -> None:
    answers = Answers(httpx.Response(503), httpx.Response(200, content=b"audio"))

    assert await _fetcher(answers).fetch(URL, 1000) == b"audio"


async def test_a_server_error_on_every_try_fails_the_download_once_the_retry_budget_is_spent() -> None:
    answers = Answers(httpx.Response(503))
    time = FakeTime()

    with pytest.raises(DownloadError, match="gave up"):
        await _fetcher(answers, time, retry_seconds=30.0).fetch(URL, 1000)
    assert answers.count == len(time.pauses) + 1
    assert sum(time.pauses) <= 30.0
    assert sum(time.pauses) > 30.0 - 5.0  # the next pause (5 s at most) would have passed the budget
    assert max(time.pauses) <= 5.0
    assert time.pauses[0] <= 0.2 < time.pauses[-1], "the pauses grow"


async def test_storage_refusing_connections_for_a_few_seconds_costs_only_time() -> None:
    time = FakeTime()
    tries: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        tries.append(time.now)
        if time.now < 4.0:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, content=b"audio")

    assert await _fetcher(handler, time, retry_seconds=30.0).fetch(URL, 1000) == b"audio"
    assert len(tries) > 2
    assert tries[-1] >= 4.0


async def test_no_retry_budget_means_one_try() -> None:
    answers = Answers(httpx.Response(503))

    with pytest.raises(DownloadError):
        await _fetcher(answers, retry_seconds=0.0).fetch(URL, 1000)
    assert answers.count == 1
