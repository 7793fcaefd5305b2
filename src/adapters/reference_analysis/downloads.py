"""Downloading recordings through presigned URLs with httpx: a size cap, a time limit per try, and
retries with backoff within a bounded budget, so a storage outage of a few seconds costs no job."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

import httpx

from adapters.reference_analysis.destinations import DestinationRefused
from application.reference_analysis.ports import DownloadError

logger = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
_RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class _Transient(Exception):  # noqa: N818 -- a signal to try again, never raised out of this module
    pass


class HttpAudioFetcher:
    """GETs a URL whole; a body over ``max_bytes`` is refused as soon as it is announced or exceeded.

    ``timeout_seconds`` bounds each try from request to last byte. A try that fails in a way another
    may mend (connection refused or reset, timeout, 5xx, 429) is followed by another after a pause that
    doubles from ``first_pause_seconds`` up to ``max_pause_seconds`` (randomised between half and all
    of it), as long as the next try starts within ``retry_seconds`` of the first failure; then the
    download fails. So storage that is down for a few seconds delays a job instead of failing it, and
    storage that stays down fails it after about ``retry_seconds`` plus one try.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        timeout_seconds: float = 30.0,
        retry_seconds: float = 30.0,
        first_pause_seconds: float = 0.2,
        max_pause_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._timeout = timeout_seconds
        self._retry_seconds = retry_seconds
        self._first_pause = first_pause_seconds
        self._max_pause = max_pause_seconds
        self._clock = clock
        self._sleep = sleep

    async def fetch(self, url: str, max_bytes: int) -> bytes:
        attempt = 1
        give_up_at: float | None = None
        while True:
            try:
                async with asyncio.timeout(self._timeout):
                    return await self._get(url, max_bytes)
            except DestinationRefused as error:
                raise DownloadError(f"refused: {error}") from None
            except (_Transient, httpx.TransportError, TimeoutError) as error:
                reason = str(error) or type(error).__name__
                now = self._clock()
                give_up_at = now + self._retry_seconds if give_up_at is None else give_up_at
                pause = self._pause(attempt)
                if now + pause > give_up_at:
                    raise DownloadError(
                        f"gave up after {attempt} attempts in {self._retry_seconds:g} s: {reason}"
                    ) from None
                logger.info("download attempt %d failed (%s); trying again in %.1f s", attempt, reason, pause)
            await self._sleep(pause)
            attempt += 1

    def _pause(self, attempt: int) -> float:
        ceiling: float = min(self._max_pause, self._first_pause * 2.0 ** (attempt - 1))
        return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 -- jitter, not secrecy

    async def _get(self, url: str, max_bytes: int) -> bytes:
        async with self._client.stream("GET", url) as response:
            status = response.status_code
            if status in _RETRYABLE_STATUSES:
                raise _Transient(f"the server answered {status}")
            if status != 200:
                raise DownloadError(f"the server answered {status}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise DownloadError(f"{declared} bytes announced, over {max_bytes}", too_large=True)
            body = bytearray()
            async for chunk in response.aiter_bytes(CHUNK_BYTES):
                body += chunk
                if len(body) > max_bytes:
                    raise DownloadError(f"more than {max_bytes} bytes", too_large=True)
            return bytes(body)
