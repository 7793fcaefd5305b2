"""Delivering the analysis server's webhooks: Standard Webhooks signatures, retried with backoff and jitter."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
import msgspec

from adapters.reference_analysis.destinations import DestinationRefused
from application.reference_analysis.ports import Notification
from shared_kernel import tracing
from shared_kernel.retry_after import parse_retry_after
from shared_kernel.webhooks import WebhookSigner

logger = logging.getLogger(__name__)

# The protocol's 4xx answers that another try may turn into a 2xx: a secret being rotated or a clock
# being fixed (401), and the usual throttling and timeout answers. Any other 4xx says the request itself
# is wrong ("400: retrying the same bytes will not help"), so the delivery stops there.
_RETRYABLE_CLIENT_ERRORS = frozenset({401, 408, 409, 425, 429})


def _plain(value: object) -> object:
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


_encoder = msgspec.json.Encoder(enc_hook=_plain)


def webhook_body(notification: Notification) -> bytes:
    """``{"type", "timestamp", "data"}``; the timestamp is when the event happened, the same on every try."""
    return _encoder.encode(
        {
            "type": notification.type,
            "timestamp": notification.occurred_at.isoformat(),
            "data": notification.data,
        }
    )


@dataclass(frozen=True, slots=True)
class WebhookRetryPolicy:
    """Exponential backoff with full jitter, at least as long as a Retry-After asks, for at most
    ``give_up_after_seconds`` from the first try."""

    first_delay_seconds: float = 0.25
    max_delay_seconds: float = 30.0
    give_up_after_seconds: float = 600.0
    attempt_timeout_seconds: float = 10.0

    def delay(self, attempt: int, retry_after: timedelta | None, draw: Callable[[], float]) -> float:
        ceiling = min(self.max_delay_seconds, self.first_delay_seconds * 2.0 ** (attempt - 1))
        return max(draw() * ceiling, retry_after.total_seconds() if retry_after else 0.0)


class HttpWebhookSender:
    """POSTs a webhook until the callback answers 2xx, signing each try afresh with the same webhook-id.

    The timestamp header is re-signed on every try, so a delivery that waits out a long outage is not
    refused as stale; the body does not change.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        signer: WebhookSigner,
        policy: WebhookRetryPolicy | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        draw: Callable[[], float] = random.random,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._signer = signer
        self._policy = policy or WebhookRetryPolicy()
        self._sleep = sleep
        self._draw = draw
        self._monotonic = monotonic

    async def deliver(self, callback_url: str, notification: Notification) -> bool:
        body = webhook_body(notification)
        began = self._monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                status, retry_after, reason = await self._try(callback_url, notification.webhook_id, body)
            except DestinationRefused as error:
                logger.error(
                    "webhook %s (%s) not sent: %s", notification.webhook_id, notification.type, error
                )
                return False
            if status is not None and 200 <= status < 300:
                return True
            if status is not None and 400 <= status < 500 and status not in _RETRYABLE_CLIENT_ERRORS:
                logger.error(
                    "webhook %s (%s) refused: %s", notification.webhook_id, notification.type, reason
                )
                return False
            delay = self._policy.delay(attempt, retry_after, self._draw)
            if self._monotonic() + delay - began > self._policy.give_up_after_seconds:
                logger.error(
                    "webhook %s (%s) given up after %d attempts: %s",
                    notification.webhook_id,
                    notification.type,
                    attempt,
                    reason,
                )
                return False
            logger.info(
                "webhook %s attempt %d failed (%s); next in %.2f s",
                notification.webhook_id,
                attempt,
                reason,
                delay,
            )
            await self._sleep(delay)

    async def _try(self, url: str, webhook_id: str, body: bytes) -> tuple[int | None, timedelta | None, str]:
        headers = {"content-type": "application/json", **self._signer.headers(webhook_id, body)}
        tracing.inject(headers)
        try:
            response = await self._client.post(
                url, content=body, headers=headers, timeout=self._policy.attempt_timeout_seconds
            )
        except httpx.HTTPError as error:
            return None, None, f"{type(error).__name__}: {error}"
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return response.status_code, retry_after, f"answered {response.status_code}: {response.text[:200]}"
