"""Webhook delivery: signed per Standard Webhooks, retried with backoff until 2xx, same webhook-id."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from adapters.reference_analysis.webhook_sender import HttpWebhookSender, WebhookRetryPolicy
from application.reference_analysis.ports import Notification
from entrypoints.settings import DEV_WEBHOOK_SECRET
from shared_kernel.webhooks import WebhookSigner, WebhookVerifier

CALLBACK = "http://api.test/webhooks/analysis"
NOTIFICATION = Notification(
    webhook_id="msg_job_started",
    type="analysis.started",
    occurred_at=datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
    data={"job_id": "0194b5a0-0000-7000-8000-000000000001"},
)


class Receiver:
    """Answers with the scripted statuses in turn (then 200) and keeps every request."""

    def __init__(self, *statuses: int, headers: dict[str, str] | None = None) -> None:
        self.statuses = list(statuses)
        self.headers = headers or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.statuses.pop(0) if self.statuses else 200
        return httpx.Response(status, json={"status": "applied"}, headers=self.headers)


class Waits:
    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.now = 0.0

    async def sleep(self, seconds: float) -> None:
        self.seconds.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def _sender(
    receiver: Callable[[httpx.Request], httpx.Response],
    waits: Waits,
    policy: WebhookRetryPolicy | None = None,
) -> HttpWebhookSender:
    client = httpx.AsyncClient(transport=httpx.MockTransport(receiver))
    return HttpWebhookSender(
        client,
        WebhookSigner(DEV_WEBHOOK_SECRET),
        policy or WebhookRetryPolicy(),
        sleep=waits.sleep,
        draw=lambda: 1.0,
        monotonic=waits.monotonic,
    )


async def test_a_webhook_answered_2xx_is_delivered_at_the_first_try() -> None:
    receiver = Receiver()

    delivered = await _sender(receiver, Waits()).deliver(CALLBACK, NOTIFICATION)

    assert delivered
    assert len(receiver.requests) == 1


async def test_a_webhook_is_retried_until_it_is_answered_2xx() -> None:
    receiver = Receiver(503, 500, 502)

    assert await _sender(receiver, Waits()).deliver(CALLBACK, NOTIFICATION)
    assert len(receiver.requests) == 4


async def test_every_try_carries_the_same_webhook_id() -> None:
    receiver = Receiver(503, 503)
    await _sender(receiver, Waits()).deliver(CALLBACK, NOTIFICATION)

    assert {request.headers["webhook-id"] for request in receiver.requests} == {"msg_job_started"}


async def test_every_try_carries_a_signature_the_api_accepts() -> None:
    receiver = Receiver(503)
    await _sender(receiver, Waits()).deliver(CALLBACK, NOTIFICATION)
    verifier = WebhookVerifier([DEV_WEBHOOK_SECRET])

    assert len(receiver.requests) == 2
    for request in receiver.requests:
        verifier.verify(request.content, dict(request.headers))


async def test_the_body_is_the_standard_webhooks_envelope() -> None:
    receiver = Receiver()
    await _sender(receiver, Waits()).deliver(CALLBACK, NOTIFICATION)

    assert json.loads(receiver.requests[0].content) == {
        "type": "analysis.started",
        "timestamp": "2026-01-01T12:00:00+00:00",
        "data": {"job_id": "0194b5a0-0000-7000-8000-000000000001"},
    }


async def test_the_waits_between_tries_grow_exponentially() -> None:
    waits = Waits()
    await _sender(Receiver(503, 503, 503), waits, WebhookRetryPolicy(first_delay_seconds=0.5)).deliver(
        CALLBACK, NOTIFICATION
    )

    assert waits.seconds == [0.5, 1.0, 2.0]


async def test_the_wait_is_at_least_what_retry_after_asks() -> None:
    waits = Waits()
    await _sender(Receiver(429, headers={"Retry-After": "7"}), waits).deliver(CALLBACK, NOTIFICATION)

    assert waits.seconds == [7.0]


async def test_a_connection_failure_is_retried() -> None:
    tries: list[int] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        tries.append(1)
        if len(tries) == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200)

    assert await _sender(flaky, Waits()).deliver(CALLBACK, NOTIFICATION)
    assert len(tries) == 2


@pytest.mark.parametrize("status", [400, 404, 422])
async def test_a_webhook_refused_as_malformed_is_not_retried(status: int) -> None:
    receiver = Receiver(status)

    delivered = await _sender(receiver, Waits()).deliver(CALLBACK, NOTIFICATION)

    assert not delivered
    assert len(receiver.requests) == 1


async def test_an_unauthorised_webhook_is_retried_as_the_secret_may_be_rotating() -> None:
    receiver = Receiver(401)

    assert await _sender(receiver, Waits()).deliver(CALLBACK, NOTIFICATION)
    assert len(receiver.requests) == 2


async def test_delivery_is_given_up_after_the_time_bound() -> None:
    waits = Waits()
    policy = WebhookRetryPolicy(first_delay_seconds=1.0, max_delay_seconds=4.0, give_up_after_seconds=20.0)

    receiver = Receiver(*[503] * 100)

    delivered = await _sender(receiver, waits, policy).deliver(CALLBACK, NOTIFICATION)

    assert not delivered
    assert 1 < len(receiver.requests) < 100
    assert 16.0 < sum(waits.seconds) <= 20.0
