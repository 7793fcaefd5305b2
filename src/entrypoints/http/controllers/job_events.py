"""A job's progress as Server-Sent Events, resumable with Last-Event-ID."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator, Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import msgspec
import structlog
from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask, BackgroundTasks
from litestar.enums import MediaType
from litestar.exceptions import ValidationException
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, HeaderParameter, QueryParameter
from litestar.response import Stream
from litestar.response.base import ASGIResponse
from litestar.response.streaming import ASGIStreamingResponse
from litestar.types import Receive, Send, TypeEncodersMap

from adapters.outages import unavailable_dependency
from application.analysis.jobs import JobStreamTickets, UserJobs
from domain.analysis.jobs import JobEvent
from entrypoints.http.dependencies import Injected
from entrypoints.http.job_schemas import StreamTicketOut
from entrypoints.http.metrics import ApiMetrics, Metrics
from entrypoints.http.problems import DEPENDENCY_RETRY_AFTER_SECONDS
from entrypoints.http.security import (
    MAX_TICKET_LENGTH,
    SIGN_IN,
    Caller,
    CredentialWatch,
    stream_credential,
)
from entrypoints.http.shutdown import until_shutdown
from entrypoints.settings import Settings

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.datastructures import Cookie

# Sequences are Postgres integers; a larger id could never match and would fail the query.
MAX_EVENT_ID = 2**31 - 1
RECONNECT_DELAY_MS = 3000
MIN_HEARTBEAT_SECONDS = 0.1
KEEP_ALIVE = "keep-alive"
SHUTTING_DOWN = "server shutting down; reconnect"
CREDENTIAL_EXPIRED = "credential expired; reconnect with a new ticket or token"
SHUTDOWN_RETRY_MS = 250
SHUTDOWN_RETRY_SPREAD_MS = 2000
_json = msgspec.json.Encoder()
logger = structlog.get_logger(__name__)
# Separators as Litestar's ServerSentEvent writes them.
_SEP = b"\r\n"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

STREAM_DESCRIPTION = """\
Server-Sent Events (`text/event-stream`) of the caller's job. Each event has `id` = the job event's
sequence (1, 2, ...), `event` = its type (queued, retrying, dispatched, started, progress, completed,
failed, cancelled) and `data` = JSON of the event's fields plus `job_id` and `sequence`. `retrying` means
a try to reach an analysis server failed and will be repeated (the job stays queued); its data has
`attempt`, `reason` (unreachable, timed_out, busy, server_error), `next_attempt_at` and
`retry_in_seconds`. Persisted events after
`Last-Event-ID` (or the `last_event_id` query parameter, for clients that cannot set headers; the
header wins) are replayed first, then live ones follow. A `: keep-alive` comment is sent when the stream
opens with nothing to replay and after every quiet period (15 s by default); the first message carries
a `retry:` hint. The stream closes after the terminal event (completed, failed or cancelled); a finished
job replays its history and closes, and answers 204 (which stops an EventSource from reconnecting) when
the client has already seen its last event. Another user's job is 404.

Authenticate with `Authorization: Bearer <access token>`, or, where headers cannot be set (a browser's
EventSource), with the `ticket` query parameter from `POST /v1/jobs/{job_id}/events/tickets`: it opens this
job's stream only, for an hour. A rejected ticket is 401, which stops an EventSource; ask for a new one.
The credential the stream was opened with is checked again at every heartbeat (and, on a busy stream,
once per heartbeat interval): once it has expired the stream ends with the comment `: credential
expired; reconnect with a new ticket or token`. An EventSource then reconnects with the same URL, gets 401 and stops; open a new stream with a new ticket (or token) and
`last_event_id` to resume.
"""


STREAM_PATH = "/jobs/{job_id:uuid}/events"
# The seed's path of the stream, served only among the deprecated unversioned routes.
SEED_STREAM_PATH = "/tokens/analysis-progress/{job_id:uuid}"
STREAM_ROUTE: dict[str, Any] = {
    "summary": "Follow a job's progress (Server-Sent Events)",
    "description": STREAM_DESCRIPTION,
    "media_type": "text/event-stream",
    "security": [{"BearerToken": []}, {"StreamTicket": []}],
    "responses": {
        204: ResponseSpec(data_container=None, description="Finished; nothing after Last-Event-ID")
    },
}


def parse_event_id(header: str | None, query: str | None) -> int:
    """The sequence to resume after: the header wins, as EventSource sends it on reconnection."""
    for source, raw in (("header", header), ("query", query)):
        if raw is None or not raw.strip():
            continue
        value = raw.strip()
        digits = value.isascii() and value.isdecimal() and len(value) <= len(str(MAX_EVENT_ID))
        if not digits or int(value) > MAX_EVENT_ID:
            field = "Last-Event-ID" if source == "header" else "last_event_id"
            message = f"must be an event id: a whole number from 0 to {MAX_EVENT_ID}"
            raise ValidationException(
                detail=f"{field}: {message}",
                extra=[{"key": field, "message": message, "source": source}],
            )
        return int(value)
    return 0


def sse_frame(
    *,
    data: bytes | None = None,
    event: str | None = None,
    event_id: int | str | None = None,
    comment: str | None = None,
    retry: int | None = None,
) -> bytes:
    """One Server-Sent Events message, as bytes on the wire: comment, id, event, data, retry lines."""
    lines: list[bytes] = []
    if comment is not None:
        lines.extend(b": " + chunk.encode() for chunk in _LINE_BREAK.split(comment))
    if event_id is not None:
        lines.append(b"id: " + _LINE_BREAK.sub("", str(event_id)).encode())
    if event is not None:
        lines.append(b"event: " + _LINE_BREAK.sub("", event).encode())
    if data is not None:
        lines.extend(b"data: " + chunk for chunk in re.split(rb"\r\n|\r|\n", data))
    if retry is not None:
        lines.append(b"retry: %d" % retry)
    return _SEP.join(lines) + _SEP + _SEP


def with_retry(frame: bytes, retry_ms: int) -> bytes:
    """The frame with a ``retry:`` hint added (a frame ends with its last line's separator and an empty
    line)."""
    return frame[: -len(_SEP)] + b"retry: %d" % retry_ms + _SEP + _SEP


KEEP_ALIVE_FRAME = sse_frame(comment=KEEP_ALIVE)


class RenderedFrames:
    """Each event's SSE frame, rendered once and shared by every stream that sends it.

    An event is immutable once stored, so (render, job, sequence) names its frame; the newest
    ``capacity`` frames are kept (a burst of events for many streams, or one event for many
    subscribers of a feed, is encoded once per event)."""

    def __init__(self, render: Callable[[JobEvent], bytes], capacity: int = 4096) -> None:
        self._render = render
        self._capacity = capacity
        self._frames: dict[tuple[UUID, int], bytes] = {}

    def __call__(self, event: JobEvent) -> bytes:
        key = (event.job_id, event.sequence)
        frame = self._frames.get(key)
        if frame is None:
            frame = self._frames[key] = self._render(event)
            if len(self._frames) > self._capacity:
                del self._frames[next(iter(self._frames))]
        return frame


def _render_event(event: JobEvent) -> bytes:
    data = {**event.data, "job_id": str(event.job_id), "sequence": event.sequence}
    return sse_frame(data=_json.encode(data), event=event.type.value, event_id=event.sequence)


event_frame = RenderedFrames(_render_event)


class EventStream(Stream):
    """A ``text/event-stream`` response of frames already encoded (``sse_frame``), with the headers of
    Litestar's ServerSentEvent; unlike it, nothing is encoded again per stream and no thread is used,
    and the frames are sent by ``EventStreamBody``."""

    def __init__(self, frames: AsyncIterator[bytes], *, background: BackgroundTask | None = None) -> None:
        super().__init__(
            frames,
            background=background,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "Connection": "keep-alive", "X-Accel-Buffering": "no"},
        )

    def to_asgi_response(
        self,
        app: Litestar | None,
        request: Request[Any, Any, Any],
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: MediaType | str | None = None,
        status_code: int | None = None,
        type_encoders: TypeEncodersMap | None = None,
    ) -> ASGIResponse:
        """Litestar's streaming response for these arguments (``Stream.to_asgi_response``), as an
        ``EventStreamBody``."""
        response = super().to_asgi_response(
            app,
            request,
            background=background,
            cookies=cookies,
            encoded_headers=encoded_headers,
            headers=headers,
            is_head_response=is_head_response,
            media_type=media_type,
            status_code=status_code,
            type_encoders=type_encoders,
        )
        assert type(response) is ASGIStreamingResponse
        response.__class__ = EventStreamBody  # the same slots: only ``send_body`` differs
        return response


class EventStreamBody(ASGIStreamingResponse):
    """Litestar's streaming response, its frames sent from the request's own task.

    Litestar's runs an anyio task group per response: the frames in a task of their own, the request's
    task waiting for the client's disconnect, a cancel scope between them (a few per cent of the API's
    CPU per SSE connect, and memory held by every open stream). Here one small task waits for the
    disconnect and cancels the sending one, which takes the cancellation back and ends as Litestar's
    did: the background task (closing the stream's events) still runs after it.
    """

    __slots__ = ()

    async def send_body(self, send: Send, receive: Receive) -> None:
        sending = asyncio.current_task()
        assert sending is not None
        listener = asyncio.get_running_loop().create_task(_cancel_on_disconnect(receive, sending))
        try:
            await self._stream(send)
        except asyncio.CancelledError:
            if not _disconnected(listener) or sending.uncancel():
                raise  # cancelled by someone else too
        finally:
            listener.cancel()


async def _cancel_on_disconnect(receive: Receive, sending: asyncio.Task[Any]) -> bool:
    while (await receive())["type"] != "http.disconnect":
        pass
    sending.cancel()
    return True


def _disconnected(listener: asyncio.Task[bool]) -> bool:
    """Whether the listener saw the client disconnect and cancelled the sending task."""
    return listener.done() and not listener.cancelled() and listener.exception() is None and listener.result()


async def sse_messages(
    events: AsyncIterator[JobEvent | None],
    credential: CredentialWatch,
    shutting_down: asyncio.Event,
    metrics: ApiMetrics,
    render: Callable[[JobEvent], bytes] = event_frame,
) -> AsyncIterator[bytes]:
    """SSE frames of a job's stream; an error or a server shutdown ends the stream early, and the
    client resumes by id (on another instance, after a short, spread-out delay when shutting down; after
    the 503s' Retry-After when a dependency is down). ``credential`` is checked again at every heartbeat
    (and, between events, once a heartbeat interval has passed): once it is refused the stream ends with
    a comment saying so, and the client's reconnection with the same credential is refused (401)."""
    with metrics.sse_stream():
        first = True
        try:
            async for event in until_shutdown(events, shutting_down):
                if credential.refusal(heartbeat=event is None) is not None:
                    yield sse_frame(comment=CREDENTIAL_EXPIRED)
                    return
                frame = render(event) if event is not None else KEEP_ALIVE_FRAME
                if first:
                    frame, first = with_retry(frame, RECONNECT_DELAY_MS), False
                yield frame
        except Exception as error:
            dependency = unavailable_dependency(error)
            if dependency is None:
                logger.exception("event stream failed")
            else:
                logger.warning(
                    "event stream ended: dependency unavailable", dependency=dependency, error=repr(error)
                )
                retry = DEPENDENCY_RETRY_AFTER_SECONDS * 1000
                yield sse_frame(comment=f"{dependency} unavailable; reconnect", retry=retry)
        if shutting_down.is_set():
            yield sse_frame(comment=SHUTTING_DOWN, retry=_shutdown_retry_ms())


def _shutdown_retry_ms() -> int:
    # Spread the reconnections of every client of this instance over the other instances.
    return SHUTDOWN_RETRY_MS + secrets.randbelow(SHUTDOWN_RETRY_SPREAD_MS)


async def close_events(events: AsyncIterator[JobEvent | None]) -> None:
    close = getattr(events, "aclose", None)
    if close is not None:
        await close()


class JobEventsController(Controller):
    tags = ["jobs"]

    @post(
        "/jobs/{job_id:uuid}/events/tickets",
        status_code=201,
        summary="Get a ticket to follow a job's events without an Authorization header",
    )
    async def stream_ticket(
        self, stream_tickets: Injected[JobStreamTickets], principal: Caller, job_id: FromPath[UUID]
    ) -> StreamTicketOut:
        """A ticket for the `ticket` query parameter of the job's event stream, for EventSource clients.

        It opens that one job's stream and nothing else, and expires after `expires_in` seconds (a
        stream opened with it ends at its first heartbeat after that); `url` is the stream's URL with the
        ticket in it. Another user's job is 404.
        """
        issued = await stream_tickets.issue(principal, job_id)
        return StreamTicketOut.of(job_id, issued)

    @get(STREAM_PATH, **STREAM_ROUTE)
    async def job_events(
        self,
        request: Request[Any, Any, Any],
        settings: Injected[Settings],
        jobs: Injected[UserJobs],
        stream_tickets: Injected[JobStreamTickets],
        metrics: Metrics,
        job_id: FromPath[UUID],
        last_event_id_header: Annotated[
            str | None,
            HeaderParameter(name="Last-Event-ID", description="Resume after this event id (sequence)."),
        ] = None,
        last_event_id: Annotated[
            str | None,
            QueryParameter(description="Resume after this event id, for clients that cannot set headers."),
        ] = None,
        ticket: Annotated[
            str | None,
            QueryParameter(
                description="A stream ticket for this job (POST /v1/jobs/{job_id}/events/tickets), for "
                "clients that cannot send an Authorization header.",
                max_length=MAX_TICKET_LENGTH,
            ),
        ] = None,
    ) -> EventStream | Response[None]:
        credential = stream_credential(
            request,
            partial(stream_tickets.verify, job_id=job_id),
            ticket,
            f"{SIGN_IN} or a stream ticket as ?ticket=",
        )
        after = parse_event_id(last_event_id_header, last_event_id)
        heartbeat = max(settings.sse_heartbeat_seconds, MIN_HEARTBEAT_SECONDS)
        events = await jobs.events(credential.principal, job_id, after, heartbeat)
        if events is None:
            return Response(None, status_code=204)
        # Closing the stream when the response ends, however it ends, releases the live subscription.
        messages = sse_messages(events, credential.watch(heartbeat), request.app.state.shutting_down, metrics)
        return EventStream(messages, background=BackgroundTask(close_events, events))


class SeedJobEventsController(JobEventsController):
    """The same routes plus the seed's path of the stream, for the deprecated unversioned mount."""

    job_events = get([STREAM_PATH, SEED_STREAM_PATH], **STREAM_ROUTE)(JobEventsController.job_events.fn)
