"""Downloading recordings through presigned URLs with httpx: a size cap, a time limit and a few retries."""

from __future__ import annotations

import asyncio
import logging
import random

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

    A download that fails in a way another try may mend (connection error, timeout, 5xx, 429) is tried
    ``attempts`` times in all, with a short randomised pause between tries; ``timeout_seconds`` bounds
    each try from request to last byte.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        timeout_seconds: float = 30.0,
        attempts: int = 3,
        pause_seconds: float = 0.2,
    ) -> None:
        self._client = client
        self._timeout = timeout_seconds
        self._attempts = attempts
        self._pause = pause_seconds

    async def fetch(self, url: str, max_bytes: int) -> bytes:
        attempt = 1
        while True:
            try:
                async with asyncio.timeout(self._timeout):
                    return await self._get(url, max_bytes)
            except DestinationRefused as error:
                raise DownloadError(f"refused: {error}") from None
            except (_Transient, httpx.TransportError, TimeoutError) as error:
                reason = str(error) or type(error).__name__
                if attempt >= self._attempts:
                    raise DownloadError(f"gave up after {attempt} attempts: {reason}") from None
                logger.info("download attempt %d failed (%s); trying again", attempt, reason)
            await asyncio.sleep(self._pause * 2 ** (attempt - 1) * (0.5 + random.random()))  # noqa: S311
            attempt += 1

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
