"""Where the analysis server may send requests: allowed hosts, public addresses, the checked address."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence

import httpx
import pytest

from adapters.reference_analysis.destinations import (
    DestinationGuard,
    DestinationPolicy,
    DestinationRefused,
    GuardedTransport,
)
from adapters.reference_analysis.downloads import HttpAudioFetcher
from adapters.reference_analysis.webhook_sender import HttpWebhookSender
from application.reference_analysis.ports import DownloadError
from entrypoints.settings import DEV_WEBHOOK_SECRET
from shared_kernel.webhooks import WebhookSigner
from tests.unit.adapters.test_reference_analysis_webhook_sender import NOTIFICATION

PUBLIC = "93.184.216.34"


class Resolver:
    """Answers ``answers`` in turn for every name, as a rebinding DNS server would."""

    def __init__(self, *answers: Sequence[str]) -> None:
        self.answers = list(answers)

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def _guard(
    *answers: Sequence[str], hosts: tuple[str, ...] = ("storage.test",), networks: str = ""
) -> DestinationGuard:
    allowed = tuple(ipaddress.ip_network(item) for item in networks.split(",") if item)
    return DestinationGuard(DestinationPolicy(hosts, allowed), Resolver(*answers))


async def test_an_allowed_host_at_a_public_address_is_sent_to_that_address() -> None:
    assert await _guard([PUBLIC]).address_for(httpx.URL("https://storage.test/a.webm")) == PUBLIC


@pytest.mark.parametrize(
    "url", ["http://elsewhere.test/a", "http://storage.test.evil.test/a", "ftp://storage.test/a"]
)
async def test_a_host_not_allowed_is_refused(url: str) -> None:
    with pytest.raises(DestinationRefused):
        await _guard([PUBLIC]).address_for(httpx.URL(url))


async def test_a_wildcard_allows_subdomains_only() -> None:
    guard = _guard([PUBLIC], hosts=("*.storage.test",))
    assert await guard.address_for(httpx.URL("http://bucket.storage.test/a")) == PUBLIC
    with pytest.raises(DestinationRefused):
        await guard.address_for(httpx.URL("http://evilstorage.test/a"))


@pytest.mark.parametrize(
    "addresses",
    [
        ["127.0.0.1"],
        ["10.0.0.5"],
        ["169.254.169.254"],
        ["::1"],
        ["fe80::1%eth0"],
        ["::ffff:10.0.0.5"],
        [PUBLIC, "192.168.1.1"],
    ],
)
async def test_a_name_at_any_non_public_address_is_refused(addresses: list[str]) -> None:
    with pytest.raises(DestinationRefused, match="not a public address"):
        await _guard(addresses).address_for(httpx.URL("http://storage.test/a"))


async def test_an_address_literal_is_checked_like_a_resolved_one() -> None:
    with pytest.raises(DestinationRefused, match="not a public address"):
        await _guard([PUBLIC], hosts=("127.0.0.1",)).address_for(httpx.URL("http://127.0.0.1:8000/a"))


async def test_an_allowed_network_admits_its_private_addresses() -> None:
    guard = _guard(["127.0.0.1"], hosts=("localhost",), networks="127.0.0.0/8")
    assert await guard.address_for(httpx.URL("http://localhost:8000/a")) == "127.0.0.1"


async def test_the_connection_goes_to_the_checked_address_with_the_name_kept_for_host_and_tls() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"audio")

    # The second answer would be a rebinding to loopback; the connection must not ask again.
    transport = GuardedTransport(_guard([PUBLIC], ["127.0.0.1"]), httpx.MockTransport(handler))
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get("https://storage.test/a.webm")

    request = seen[0]
    assert (request.url.host, request.headers["host"], request.extensions["sni_hostname"]) == (
        PUBLIC,
        "storage.test",
        "storage.test",
    )


def _recording(requests: list[httpx.Request]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200)

    return handler


async def test_a_refused_download_fails_at_once_without_a_request() -> None:
    requests: list[httpx.Request] = []
    transport = GuardedTransport(_guard(["10.0.0.5"]), httpx.MockTransport(_recording(requests)))
    fetcher = HttpAudioFetcher(httpx.AsyncClient(transport=transport), first_pause_seconds=0.0)

    with pytest.raises(DownloadError, match="refused"):
        await fetcher.fetch("http://storage.test/a.webm", 1000)
    assert requests == []


async def test_a_redirect_is_not_followed() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(302, headers={"location": "http://169.254.169.254/latest/meta-data"})

    transport = GuardedTransport(_guard([PUBLIC]), httpx.MockTransport(handler))
    fetcher = HttpAudioFetcher(
        httpx.AsyncClient(transport=transport, follow_redirects=False), retry_seconds=0.0
    )

    with pytest.raises(DownloadError, match="302"):
        await fetcher.fetch("http://storage.test/a.webm", 1000)
    assert len(requests) == 1


async def test_a_webhook_to_a_refused_destination_is_given_up_at_once_without_a_request() -> None:
    requests: list[httpx.Request] = []
    transport = GuardedTransport(_guard(["169.254.169.254"]), httpx.MockTransport(_recording(requests)))
    sender = HttpWebhookSender(httpx.AsyncClient(transport=transport), WebhookSigner(DEV_WEBHOOK_SECRET))

    assert await sender.deliver("http://storage.test/hook", NOTIFICATION) is False
    assert requests == []
