"""A user's live feed: every event of every one of their jobs, over a WebSocket or Server-Sent Events,
resumable from an opaque cursor (docs/live.md)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
import structlog
from litestar import Controller, Request, WebSocket, get, post, websocket
from litestar.background_tasks import BackgroundTask
from litestar.exceptions import ValidationException, WebSocketDisconnect
from litestar.params import HeaderParameter, QueryParameter

from adapters.outages import unavailable_dependency
from application.analysis.feed import UserFeed, feed_position
from domain.analysis.jobs import JobEvent
from domain.errors import AuthenticationError
from entrypoints.bootstrap import Container
from entrypoints.http.controllers.job_events import (
    MIN_HEARTBEAT_SECONDS,
    EventStream,
    RenderedFrames,
    close_events,
    sse_frame,
    sse_messages,
)
from entrypoints.http.dependencies import Injected
from entrypoints.http.metrics import ApiMetrics, Metrics
from entrypoints.http.security import (
    MAX_TICKET_LENGTH,
    SIGN_IN,
    Caller,
    Connection,
    CredentialWatch,
    StreamCredential,
    stream_credential,
)
from entrypoints.http.versioning import API_V1
from entrypoints.settings import Settings

# Mounted under /v1 (entrypoints.http.app.api_routers); the tickets' URLs name the full paths.
FEED_PATH = "/events"
NOTIFICATIONS_PATH = "/notifications"
# Cursors are feed sequences (Postgres bigint) today; clients must treat them as opaque strings.
MAX_CURSOR = 2**63 - 1
# The cursor that starts a feed at the present: only events committed from now on.
CURSOR_NOW = "now"
# WebSocket close codes (docs/live.md).
CLOSE_BAD_CURSOR = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_SLOW = 4408
CLOSE_RESTARTING = 1012
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_INTERNAL_ERROR = 1011
# A close frame waits behind what the client has not read; past this the handler gives up on it (the
# server's WebSocket ping timeout drops such a connection).
CLOSE_WAIT_SECONDS = 5.0
PRODUCER = "feed-producer"
_json = msgspec.json.Encoder()
logger = structlog.get_logger(__name__)

FEED_DESCRIPTION = """\
Server-Sent Events (`text/event-stream`) of **every job of the caller**: each event of each job, in the
order they were committed. Each message has `id` = the event's **cursor** (an opaque string: compare it
with nothing, store the last one), `event` = its type (queued, dispatched, started, progress,
completed, failed, cancelled) and `data` = JSON of the event's fields plus `job_id`, `sequence` (its
place in its job) and `cursor`. Reconnecting with the last cursor in `Last-Event-ID` (an EventSource
does that by itself) or the `cursor` query parameter (the header wins) replays exactly the events
committed after it from Postgres, then live ones follow: no gaps, no repeats. Without a cursor the feed
starts with the caller's whole history; with `cursor=now` at the present (only new events). A
`: keep-alive` comment comes when the stream opens with nothing to replay and after every quiet period
(15 s by default).

Authenticate with `Authorization: Bearer <access token>`, or with the `ticket` query parameter from
`POST /v1/events/tickets` (an hour, this feed only). A refused credential is 401. The credential is
checked again at every keep-alive (and, on a busy feed, once per heartbeat interval); once it has
expired the stream ends with the comment `: credential expired; reconnect with a new ticket or token`,
and an EventSource, reconnecting with the same ticket, gets 401 and stops: reopen with a new ticket (or
token) and the last cursor. The stream also ends, with
a comment and a `retry:` hint, when the server restarts or Postgres is unavailable: reconnect with the
last cursor.

The same feed is a **WebSocket** at `GET /v1/notifications` (not listed here, as OpenAPI cannot describe
one): the same credentials (bearer header or `?ticket=`) and `?cursor=`; each text message is JSON,
`{"type": "event", "cursor", "event", "data"}` as above, or `{"type": "heartbeat"}` after a quiet period;
the server also sends WebSocket pings. Close codes: 4401 credential missing, refused or expired (get a
new ticket or token), 4400 malformed cursor, 4408 the client read too slowly (its send queue stayed
full; reconnect with the last cursor), 1012 server restarting and 1013 a dependency (Postgres) is down
(reconnect with the last cursor after a moment), 1011 unexpected error. See docs/live.md.
"""


class FeedTicketOut(msgspec.Struct):
    """A credential for the caller's feed, for clients that cannot send an Authorization header."""

    ticket: str
    expires_in: int
    events_url: str
    notifications_url: str


def parse_cursor(header: str | None, query: str | None) -> int | None:
    """The feed position to resume after (0: from the start; None for ``now``: after the newest event);
    the header wins, as an EventSource sends its newest id there while keeping its URL."""
    for field, raw in (("Last-Event-ID", header), ("cursor", query)):
        if raw is None or not raw.strip():
            continue
        value = raw.strip()
        if value == CURSOR_NOW:
            return None
        if not (value.isascii() and value.isdecimal() and len(value) <= len(str(MAX_CURSOR))) or (
            int(value) > MAX_CURSOR
        ):
            message = f"must be a cursor this feed sent, or {CURSOR_NOW!r}"
            raise ValidationException(
                detail=f"{field}: {message}",
                extra=[
                    {"key": field, "message": message, "source": "header" if field != "cursor" else "query"}
                ],
            )
        return int(value)
    return 0


def feed_data(event: JobEvent) -> dict[str, Any]:
    cursor = str(feed_position(event))
    return {**event.data, "job_id": str(event.job_id), "sequence": event.sequence, "cursor": cursor}


def _render_feed_event(event: JobEvent) -> bytes:
    data = feed_data(event)
    return sse_frame(data=_json.encode(data), event=event.type.value, event_id=data["cursor"])


feed_frame = RenderedFrames(_render_feed_event)


def feed_ws_message(event: JobEvent | None) -> str:
    if event is None:
        return '{"type":"heartbeat"}'
    data = feed_data(event)
    return _json.encode(
        {"type": "event", "cursor": data["cursor"], "event": event.type.value, "data": data}
    ).decode()


def feed_credential(connection: Connection, feed: UserFeed, ticket: str | None) -> StreamCredential:
    return stream_credential(
        connection, feed.verify_ticket, ticket, f"{SIGN_IN} or a feed ticket as ?ticket="
    )


class LiveFeedController(Controller):
    tags = ["jobs"]

    @post(
        f"{FEED_PATH}/tickets",
        status_code=201,
        summary="Get a ticket to follow your live feed without an Authorization header",
    )
    async def feed_ticket(self, feed: Injected[UserFeed], principal: Caller) -> FeedTicketOut:
        """A ticket for the `ticket` query parameter of `GET /v1/events` and the `/v1/notifications`
        WebSocket, for browsers (EventSource and WebSocket cannot send headers).

        It opens the caller's own feed and nothing else, and expires after `expires_in` seconds; at its
        first heartbeat after that, a WebSocket opened with it is closed with code 4401 and an SSE
        stream ends with a comment saying so.
        """
        issued = feed.issue_ticket(principal)
        return FeedTicketOut(
            issued.token,
            issued.expires_in_seconds,
            f"{API_V1}{FEED_PATH}?ticket={issued.token}",
            f"{API_V1}{NOTIFICATIONS_PATH}?ticket={issued.token}",
        )

    @get(
        FEED_PATH,
        summary="Follow every event of all your jobs (Server-Sent Events; WebSocket at /v1/notifications)",
        description=FEED_DESCRIPTION,
        media_type="text/event-stream",
        security=[{"BearerToken": []}, {"StreamTicket": []}],
    )
    async def feed_events(
        self,
        request: Request[Any, Any, Any],
        settings: Injected[Settings],
        feed: Injected[UserFeed],
        metrics: Metrics,
        last_event_id_header: Annotated[
            str | None,
            HeaderParameter(name="Last-Event-ID", description="Resume after this cursor."),
        ] = None,
        cursor: Annotated[
            str | None,
            QueryParameter(description="Resume after this cursor, for clients that cannot set headers."),
        ] = None,
        ticket: Annotated[
            str | None,
            QueryParameter(
                description="A feed ticket (POST /v1/events/tickets), for clients that cannot send an "
                "Authorization header.",
                max_length=MAX_TICKET_LENGTH,
            ),
        ] = None,
    ) -> EventStream:
        credential = feed_credential(request, feed, ticket)
        after = parse_cursor(last_event_id_header, cursor)
        heartbeat = max(settings.sse_heartbeat_seconds, MIN_HEARTBEAT_SECONDS)
        events = feed.events(credential.principal, after, heartbeat)
        watch = credential.watch(heartbeat)
        messages = sse_messages(events, watch, request.app.state.shutting_down, metrics, render=feed_frame)
        return EventStream(messages, background=BackgroundTask(close_events, events))


@websocket(NOTIFICATIONS_PATH)
async def notifications(socket: WebSocket[Any, Any, Any]) -> None:
    """The live feed as a WebSocket. It is accepted before anything is checked, so a refusal reaches
    the client as a close code it can read (a refused handshake is only an HTTP 403)."""
    await socket.accept()
    container: Container = socket.app.state.container
    metrics: ApiMetrics = socket.app.state.metrics
    query = socket.query_params
    ticket, raw_cursor = query.get("ticket"), query.get("cursor")
    try:
        credential = feed_credential(socket, container.feed, ticket)
    except AuthenticationError as refusal:
        await _close(socket, metrics, CLOSE_UNAUTHORIZED, str(refusal))
        return
    try:
        after = parse_cursor(None, raw_cursor)
    except ValidationException as bad:
        await _close(socket, metrics, CLOSE_BAD_CURSOR, bad.detail)
        return
    settings = container.settings
    heartbeat = max(settings.sse_heartbeat_seconds, MIN_HEARTBEAT_SECONDS)
    events = container.feed.events(credential.principal, after, heartbeat)
    connection = _FeedConnection(
        socket,
        events,
        credential.watch(heartbeat),
        settings.feed_send_queue,
        settings.feed_send_timeout_seconds,
    )
    with metrics.websocket_connection():
        try:
            code, reason = await connection.run(socket.app.state.shutting_down)
        finally:
            await close_events(events)
    if code is not None:
        await _close(socket, metrics, code, reason)


async def _close(socket: WebSocket[Any, Any, Any], metrics: ApiMetrics, code: int, reason: str) -> None:
    metrics.feed_closed(code)
    # A close reason is at most 123 bytes.
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSE_WAIT_SECONDS):
            await socket.close(code, reason.encode()[:123].decode(errors="ignore"))


class _FeedConnection:
    """Three tasks per connection: one reads the feed into a bounded queue, one sends from the queue,
    one reads from the client (to notice it leave). A queue that stays full for ``send_timeout``
    seconds means the client cannot keep up: it is dropped (4408) rather than buffered without end."""

    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        events: AsyncIterator[JobEvent | None],
        credential: CredentialWatch,
        queue_size: int,
        send_timeout: float,
    ) -> None:
        self._socket = socket
        self._events = events
        self._credential = credential
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self._send_timeout = send_timeout

    async def run(self, shutting_down: asyncio.Event) -> tuple[int | None, str]:
        """The close code and reason to end with; None when the client has gone."""
        tasks = {
            asyncio.create_task(self._produce(), name=PRODUCER),
            asyncio.create_task(self._send(), name="feed-sender"),
            asyncio.create_task(self._receive(), name="feed-receiver"),
            asyncio.create_task(self._shutdown(shutting_down), name="feed-shutdown"),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finished = done.pop()
        if finished.cancelled():
            return CLOSE_INTERNAL_ERROR, "cancelled"
        error = finished.exception()
        if error is None:
            return finished.result()
        if isinstance(error, WebSocketDisconnect) or (
            finished.get_name() != PRODUCER and isinstance(error, OSError)
        ):
            return None, ""  # the client has gone (uvicorn's ClientDisconnected is an OSError)
        dependency = unavailable_dependency(error)
        if dependency is not None:
            logger.warning("live feed ended: dependency unavailable", dependency=dependency)
            return CLOSE_TRY_AGAIN_LATER, f"{dependency} unavailable; reconnect with your last cursor"
        logger.error("live feed failed", exc_info=error)
        return CLOSE_INTERNAL_ERROR, "internal error; reconnect with your last cursor"

    async def _produce(self) -> tuple[int | None, str]:
        async for event in self._events:
            refusal = self._credential.refusal(heartbeat=event is None)
            if refusal is not None:
                return CLOSE_UNAUTHORIZED, str(refusal)
            try:
                async with asyncio.timeout(self._send_timeout):
                    await self._queue.put(feed_ws_message(event))
            except TimeoutError:
                return CLOSE_TOO_SLOW, "too slow: reconnect with your last cursor"
        return CLOSE_INTERNAL_ERROR, "the feed ended"

    async def _send(self) -> tuple[int | None, str]:
        while True:
            await self._socket.send_text(await self._queue.get())

    async def _receive(self) -> tuple[int | None, str]:
        # Clients have nothing to say; what they send is read (and dropped) to notice a disconnect.
        while True:
            await self._socket.receive_data("text")

    async def _shutdown(self, shutting_down: asyncio.Event) -> tuple[int | None, str]:
        await shutting_down.wait()
        return CLOSE_RESTARTING, "server restarting; reconnect with your last cursor"
