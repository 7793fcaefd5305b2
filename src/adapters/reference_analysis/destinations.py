"""Where the analysis server may send requests: configured hosts only, at public addresses unless allowed.

Whoever can submit an analysis chooses the URLs the server downloads from and posts webhooks to, so
every request goes through ``GuardedTransport``: the URL's host must be one of the allowed hosts, every
address the name resolves to must be public (or in an allowed network), and the connection goes to
the address that was checked, so a second DNS answer (rebinding) cannot send it elsewhere. Redirects
are not followed by the clients; were one followed, its request would pass through here too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
RESOLVE_TIMEOUT_SECONDS = 5.0
_DEFAULT_PORTS = {"http": 80, "https": 443}


class DestinationRefused(Exception):  # noqa: N818 -- a refusal, named as the caller reads it
    """A URL the server must not send a request to."""


async def system_resolver(host: str, port: int) -> Sequence[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True, slots=True)
class DestinationPolicy:
    """``allowed_hosts``: names or addresses, ``*.example.com`` for any subdomain of example.com;
    ``allowed_networks``: non-public networks an allowed host may be at (loopback for `make run`)."""

    allowed_hosts: tuple[str, ...]
    allowed_networks: tuple[IpNetwork, ...] = ()

    def allows_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        for allowed in self.allowed_hosts:
            allowed = allowed.lower().rstrip(".")
            if host == allowed or (allowed.startswith("*.") and host.endswith(allowed[1:])):
                return True
        return False

    def allows_address(self, address: IpAddress) -> bool:
        if any(address in network for network in self.allowed_networks if network.version == address.version):
            return True
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        return address.is_global and (mapped is None or self.allows_address(mapped))


class DestinationGuard:
    """Checks a URL against the policy and answers the address to connect to."""

    def __init__(self, policy: DestinationPolicy, resolver: Resolver = system_resolver) -> None:
        self._policy = policy
        self._resolver = resolver

    async def address_for(self, url: httpx.URL) -> str:
        """The checked address of ``url``'s host; DestinationRefused when any part is not allowed."""
        if url.scheme not in _DEFAULT_PORTS:
            raise DestinationRefused(f"{url.scheme!r} URLs are not fetched")
        host = url.host
        if not self._policy.allows_host(host):
            raise DestinationRefused(f"{host!r} is not in ANALYSIS_SERVER_ALLOWED_HOSTS")
        addresses = await self._resolve(host, url.port or _DEFAULT_PORTS[url.scheme])
        refused = [str(address) for address in addresses if not self._policy.allows_address(address)]
        if refused:
            raise DestinationRefused(
                f"{host!r} is at {', '.join(refused)}, not a public address "
                "(ANALYSIS_SERVER_ALLOWED_PRIVATE_NETWORKS allows one)"
            )
        return str(addresses[0])

    async def check(self, url: str) -> None:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as error:
            raise DestinationRefused(f"not a URL: {error}") from None
        await self.address_for(parsed)

    async def _resolve(self, host: str, port: int) -> list[IpAddress]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
                found = await self._resolver(host, port)
        except (OSError, TimeoutError) as error:
            raise DestinationRefused(f"{host!r} does not resolve: {error or type(error).__name__}") from None
        # getaddrinfo writes a scoped IPv6 address as "fe80::1%eth0"; the scope does not change its kind.
        addresses = [ipaddress.ip_address(address.split("%")[0]) for address in found]
        if not addresses:
            raise DestinationRefused(f"{host!r} resolves to no address")
        return addresses


class GuardedTransport(httpx.AsyncBaseTransport):
    """Sends each request to the address its guard checked, keeping the name for Host and TLS."""

    def __init__(self, guard: DestinationGuard, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._guard = guard
        self._inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        address = await self._guard.address_for(request.url)
        if request.url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": request.url.host}
        request.url = request.url.copy_with(host=address)  # the Host header was set from the name
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
