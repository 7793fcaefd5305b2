"""The relay's fast path over Redis pub/sub: a committed outbox row wakes the workers, which claim the
due rows in batches.

The API publishes each committed row's id on one channel per deployment (one ``PUBLISH``, where an SAQ
job per row cost the API an enqueue script and the worker SAQ's own Redis traffic per job). Every
listening worker claims what is due with ``SKIP LOCKED``, so wake-ups arriving together are served by
one claim. A wake-up lost (Redis down, no worker listening, a subscriber's backlog overflowing) only
delays its row until the worker's sweep, which needs only Postgres.

The worker listens on a connection of its own (``DirectWakeupSubscription``): a wake-up only counts, its
payload is never read, and at 20 jobs/s each job is woken by a message of its own. Through redis-py's
pub/sub (``PubSub.get_message``: its retry wrapper, the RESP3 parser reading each element through an
asyncio stream, the fan-out's dispatch) one wake-up cost about 210 µs of the worker's CPU; read by a
plain protocol that only counts messages, about 45 µs (docs/performance.md, "relay10").
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol
from uuid import UUID

from redis.asyncio import Redis
from redis.asyncio.connection import Connection

from adapters.events.redis_fanout import LocalSubscriber, RedisEventFanout

CHANNEL_SUFFIX = ":relay-wakeups"
# Connecting and the AUTH / SELECT / SUBSCRIBE exchange, when the client sets no connect timeout.
DEFAULT_CONNECT_TIMEOUT_SECONDS = 2.0
# A wake-up connection silent this long is sent a PING; unanswered for as long again, it is given up
# (a connection dropped without a goodbye, by a NAT or a failed-over Redis, says nothing otherwise).
HEALTH_CHECK_SECONDS = 15.0
_PING = b"*1\r\n$4\r\nPING\r\n"


def wakeup_channel(queue_name: str) -> str:
    """Deployments sharing a Redis are kept apart by their queue name, as their SAQ queues are."""
    return f"{queue_name}{CHANNEL_SUFFIX}"


class WakeupSubscription(Protocol):
    @property
    def lost(self) -> bool:
        """The subscription is gone for good (its connection closed): subscribe again."""
        ...

    async def wait(self, timeout_seconds: float) -> int: ...

    def close(self) -> None: ...


class RedisRelayWakeups:
    """The ``RelayQueue`` port for the API, and the workers' subscription to it.

    ``redis``, when given and connecting over plain TCP (``redis://``), is where the worker's own
    wake-up connection goes (same host, port, credentials and database); otherwise (TLS, a Unix socket)
    the subscription goes through the shared fan-out."""

    def __init__(
        self,
        fanout: RedisEventFanout,
        queue_name: str,
        redis: Redis | None = None,
        health_check_seconds: float = HEALTH_CHECK_SECONDS,
    ) -> None:
        self._fanout = fanout
        self._channel = wakeup_channel(queue_name)
        self._redis = redis
        self._health_check_seconds = health_check_seconds

    async def enqueue_relay(self, outbox_id: UUID) -> None:
        """Raise ``TimeoutError`` when Redis does not take the wake-up promptly (the sweep relays the row)."""
        await self._fanout.publish([(self._channel, outbox_id.bytes)])

    async def subscribe(self) -> WakeupSubscription:
        """Wake-ups from now on; raises when Redis does not answer (try again later)."""
        if self._redis is not None and self._redis.connection_pool.connection_class is Connection:
            return await DirectWakeupSubscription.open(
                self._redis.connection_pool.connection_kwargs, self._channel, self._health_check_seconds
            )
        return RelayWakeupSubscription(
            self._fanout, self._channel, await self._fanout.join_raw(self._channel)
        )


class RelayWakeupSubscription:
    """Wake-ups through the process's shared pub/sub connection (redis-py reconnects it)."""

    def __init__(self, fanout: RedisEventFanout, channel: str, subscriber: LocalSubscriber[bytes]) -> None:
        self._fanout = fanout
        self._channel = channel
        self._subscriber = subscriber

    @property
    def lost(self) -> bool:
        return False

    async def wait(self, timeout_seconds: float) -> int:
        """How many wake-ups arrived: waits up to ``timeout_seconds`` for the first, then takes the ones
        already queued behind it, so one claim serves them all. 0 when none came in time."""
        if await self._subscriber.receive(timeout_seconds) is None:
            return 0
        woken = 1
        while await self._subscriber.receive(0) is not None:
            woken += 1
        return woken

    def close(self) -> None:
        self._fanout.leave(self._subscriber, self._channel)


class WakeupConnectionLostError(ConnectionError):
    """The wake-up connection closed (Redis restarted, the network dropped it)."""


class RedisReplyError(Exception):
    """Redis answered the wake-up connection's AUTH, SELECT or SUBSCRIBE with an error."""


class DirectWakeupSubscription:
    """Wake-ups on a connection of the worker's own, subscribed to the one channel, read by a protocol
    that counts ``message`` pushes as they arrive. A closed connection is not reopened here: ``wait``
    raises and ``lost`` is true, and the wake loop subscribes again (what was published meanwhile is
    relayed by the sweep). A connection silent for ``health_check_seconds`` is sent a PING, and counts as
    lost when that goes unanswered as long again."""

    def __init__(
        self,
        transport: asyncio.Transport,
        protocol: _WakeupProtocol,
        health_check_seconds: float = HEALTH_CHECK_SECONDS,
    ) -> None:
        self._transport = transport
        self._protocol = protocol
        self._health_check_seconds = health_check_seconds

    @classmethod
    async def open(
        cls, connection: dict[str, Any], channel: str, health_check_seconds: float = HEALTH_CHECK_SECONDS
    ) -> DirectWakeupSubscription:
        loop = asyncio.get_running_loop()
        timeout = connection.get("socket_connect_timeout") or DEFAULT_CONNECT_TIMEOUT_SECONDS
        commands: list[list[bytes]] = []
        if connection.get("password") is not None:
            credentials = [connection["username"]] if connection.get("username") else []
            commands.append([b"AUTH", *(_bytes(value) for value in [*credentials, connection["password"]])])
        if connection.get("db"):
            commands.append([b"SELECT", _bytes(connection["db"])])
        commands.append([b"SUBSCRIBE", channel.encode()])
        transport: asyncio.Transport | None = None
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    _WakeupProtocol, connection.get("host", "localhost"), int(connection.get("port", 6379))
                )
                transport.write(b"".join(_command(command) for command in commands))
                for _ in commands:
                    reply = await protocol.reply()
                    if isinstance(reply, RedisReplyError):
                        raise reply
        except BaseException:
            if transport is not None:
                transport.close()
            raise
        return cls(transport, protocol, health_check_seconds)

    @property
    def lost(self) -> bool:
        return self._protocol.lost is not None

    async def wait(self, timeout_seconds: float) -> int:
        """How many wake-ups arrived: waits up to ``timeout_seconds`` for the first; every one already
        read comes with it, so one claim serves them all. 0 when none came in time."""
        protocol = self._protocol
        self._check_health()
        if not protocol.woken and protocol.lost is None and timeout_seconds > 0:
            loop = asyncio.get_running_loop()
            waiter = protocol.waiter = loop.create_future()
            timer = loop.call_later(timeout_seconds, _wake, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                protocol.waiter = None
        woken, protocol.woken = protocol.woken, 0
        if not woken and protocol.lost is not None:
            raise WakeupConnectionLostError(
                "the relay's wake-up connection to Redis closed"
            ) from protocol.lost
        return woken

    def close(self) -> None:
        self._transport.close()

    def _check_health(self) -> None:
        protocol = self._protocol
        if protocol.lost is not None:
            return
        now = asyncio.get_running_loop().time()
        if protocol.pinged_at is None:
            if now - protocol.heard_at >= self._health_check_seconds:
                protocol.pinged_at = now
                self._transport.write(_PING)
        elif now - protocol.pinged_at >= self._health_check_seconds:
            protocol.lost = TimeoutError(
                f"Redis did not answer the wake-up connection's PING within {self._health_check_seconds} s"
            )
            self._transport.abort()


class _WakeupProtocol(asyncio.Protocol):
    """Counts the ``message`` pushes of a subscribed RESP2 connection; hands other replies (the
    handshake's) to ``reply``."""

    def __init__(self) -> None:
        self._transport: asyncio.BaseTransport | None = None
        self._buffer = bytearray()
        self._replies: list[object] = []
        self.woken = 0
        self.waiter: asyncio.Future[None] | None = None
        self.lost: BaseException | None = None
        self.heard_at = 0.0  # the loop's time when Redis last sent anything
        self.pinged_at: float | None = None  # when the unanswered PING was sent

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self.heard_at = asyncio.get_running_loop().time()

    def data_received(self, data: bytes) -> None:
        self.heard_at = asyncio.get_running_loop().time()
        self.pinged_at = None
        self._buffer += data
        position = 0
        try:
            while (parsed := _parse(self._buffer, position)) is not None:
                value, position = parsed
                if isinstance(value, list) and value and value[0] == b"message":
                    self.woken += 1
                elif isinstance(value, list) and value and value[0] == b"pong":
                    pass  # the health check's answer: hearing it was the point
                else:
                    self._replies.append(value)
        except (RedisReplyError, ValueError) as error:  # not RESP: this connection is of no more use
            self.lost = error
            if self._transport is not None:
                self._transport.close()
        del self._buffer[:position]
        if self.waiter is not None:
            _wake(self.waiter)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = self.lost or exc or ConnectionResetError("Redis closed the connection")
        if self.waiter is not None:
            _wake(self.waiter)

    async def reply(self) -> object:
        """The next reply that is not a wake-up (the handshake's), in order."""
        while not self._replies:
            if self.lost is not None:
                raise WakeupConnectionLostError("Redis closed the wake-up connection") from self.lost
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self._replies.pop(0)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _bytes(value: object) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _command(arguments: list[bytes]) -> bytes:
    parts = [b"*%d\r\n" % len(arguments)]
    for argument in arguments:
        parts.append(b"$%d\r\n%s\r\n" % (len(argument), argument))
    return b"".join(parts)


def _parse(buffer: bytearray, position: int) -> tuple[object, int] | None:
    """One RESP2 value from ``position``, and where the next begins; None while it is incomplete."""
    end = buffer.find(b"\r\n", position)
    if end < 0:
        return None
    kind, line = buffer[position : position + 1], bytes(buffer[position + 1 : end])
    after = end + 2
    if kind == b"+":
        return line, after
    if kind == b"-":
        return RedisReplyError(line.decode(errors="replace")), after
    if kind == b":":
        return int(line), after
    if kind == b"$":
        size = int(line)
        if size < 0:
            return None, after
        if len(buffer) < after + size + 2:
            return None
        return bytes(buffer[after : after + size]), after + size + 2
    if kind == b"*":
        count = int(line)
        items: list[object] = []
        for _ in range(max(count, 0)):
            parsed = _parse(buffer, after)
            if parsed is None:
                return None
            item, after = parsed
            items.append(item)
        return items, after
    raise RedisReplyError(f"unexpected reply from Redis: {bytes(buffer[position:end])!r}")
