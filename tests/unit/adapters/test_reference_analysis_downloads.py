"""Downloading recordings: whole bodies only, a size cap, retries for what another try may mend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from adapters.reference_analysis.downloads import HttpAudioFetcher
from application.reference_analysis.ports import DownloadError

URL = "http://storage.test/recordings/job.webm"


def _fetcher(handler: Callable[[httpx.Request], httpx.Response]) -> HttpAudioFetcher:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return HttpAudioFetcher(client, attempts=3, pause_seconds=0.0)


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


async def test_a_server_error_on_every_try_fails_the_download() -> None:
    answers = Answers(httpx.Response(503))

    with pytest.raises(DownloadError):
        await _fetcher(answers).fetch(URL, 1000)
    assert answers.count == 3
