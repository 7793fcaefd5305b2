"""Event streams check their credential again at every heartbeat and end once it has expired."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest

from adapters.security.tokens import JwtAccessTokenIssuer, JwtStreamTickets
from domain.accounts import Principal, Role
from domain.analysis.jobs import EventType, JobEvent
from domain.errors import AuthenticationError
from entrypoints.http.controllers.job_events import (
    CREDENTIAL_EXPIRED,
    KEEP_ALIVE_FRAME,
    RECONNECT_DELAY_MS,
    event_frame,
    sse_messages,
    with_retry,
)
from entrypoints.http.metrics import ApiMetrics
from entrypoints.http.security import MAX_TICKET_LENGTH, CredentialWatch, stream_credential

SECRET = "test-jwt-secret-0123456789abcdef0123456789"
TICKET_LIFETIME = timedelta(hours=1)
TOKEN_LIFETIME = timedelta(minutes=1)
USER = Principal(user_id=UUID("0190a6b2-7c3e-7a10-8000-000000000001"), role=Role.USER)
JOB = UUID("0190a6b2-7c3e-7a10-8000-0000000000aa")
MISSING = "sign in or send a ticket"


class FakeClock:
    def __init__(self) -> None:
        self.current = datetime.now(UTC)

    def now(self) -> datetime:
        return self.current


def _event(sequence: int) -> JobEvent:
    return JobEvent(JOB, sequence, EventType.PROGRESS, {"percent": sequence}, datetime.now(UTC))


async def _quiet_then_expired(clock: FakeClock) -> AsyncIterator[JobEvent | None]:
    """An event and a heartbeat while the credential is valid; then, past its expiry, an event, a
    heartbeat and an event that must not be sent."""
    yield _event(1)
    yield None
    clock.current += TICKET_LIFETIME
    yield _event(2)
    yield None
    yield _event(3)


async def _frames(events: AsyncIterator[JobEvent | None], check: Any, interval: float = 3600) -> list[bytes]:
    watch = CredentialWatch(check, interval)
    return [frame async for frame in sse_messages(events, watch, asyncio.Event(), ApiMetrics())]


async def _busy_then_expired(clock: FakeClock) -> AsyncIterator[JobEvent | None]:
    """Events and no heartbeat: the stream never pauses long enough for one."""
    yield _event(1)
    clock.current += TICKET_LIFETIME
    for sequence in range(2, 100):
        await asyncio.sleep(0.001)
        yield _event(sequence)


async def test_a_stream_ends_with_a_comment_at_its_first_heartbeat_after_the_ticket_expired() -> None:
    clock = FakeClock()
    tickets = JwtStreamTickets(SECRET, clock, TICKET_LIFETIME)
    ticket = tickets.issue(USER, JOB).token

    frames = await _frames(_quiet_then_expired(clock), partial(tickets.verify, ticket, JOB))

    assert frames == [
        with_retry(event_frame(_event(1)), RECONNECT_DELAY_MS),
        KEEP_ALIVE_FRAME,
        event_frame(_event(2)),  # events are sent as they come; the check is at heartbeats
        b": " + CREDENTIAL_EXPIRED.encode() + b"\r\n\r\n",
    ]


async def test_a_stream_whose_credential_holds_sends_every_heartbeat() -> None:
    clock = FakeClock()
    tickets = JwtStreamTickets(SECRET, clock, TICKET_LIFETIME * 2)
    ticket = tickets.issue(USER, JOB).token

    frames = await _frames(_quiet_then_expired(clock), partial(tickets.verify, ticket, JOB))

    assert frames[1:] == [KEEP_ALIVE_FRAME, event_frame(_event(2)), KEEP_ALIVE_FRAME, event_frame(_event(3))]


async def test_a_busy_stream_is_checked_between_events_once_a_heartbeat_interval_passed() -> None:
    clock = FakeClock()
    tickets = JwtStreamTickets(SECRET, clock, TICKET_LIFETIME)
    ticket = tickets.issue(USER, JOB).token

    frames = await _frames(_busy_then_expired(clock), partial(tickets.verify, ticket, JOB), interval=0.02)

    assert frames[0] == with_retry(event_frame(_event(1)), RECONNECT_DELAY_MS)
    assert frames[-1] == b": " + CREDENTIAL_EXPIRED.encode() + b"\r\n\r\n"
    assert len(frames) < 60  # ended within a few intervals, not after the 99th event


def test_between_heartbeats_the_credential_is_checked_only_when_due() -> None:
    checks: list[float] = []
    now = [0.0]
    watch = CredentialWatch(lambda: checks.append(now[0]), 10.0, clock=lambda: now[0])

    for now[0] in (1.0, 5.0, 9.9):
        assert watch.refusal(heartbeat=False) is None
    assert checks == []
    now[0] = 10.0
    watch.refusal(heartbeat=False)
    now[0] = 12.0
    watch.refusal(heartbeat=True)  # a heartbeat always checks, and starts the interval again
    now[0] = 21.9
    watch.refusal(heartbeat=False)
    assert checks == [10.0, 12.0]


def _connection(access_tokens: JwtAccessTokenIssuer, headers: dict[str, str]) -> Any:
    """What ``stream_credential`` reads of an ASGI connection (no authentication middleware ran)."""
    container = SimpleNamespace(authentication=SimpleNamespace(authenticate=access_tokens.verify))
    return SimpleNamespace(
        headers=headers, scope={}, app=SimpleNamespace(state=SimpleNamespace(container=container))
    )


def test_a_bearer_token_wins_over_a_ticket_and_is_what_the_stream_checks_again() -> None:
    clock = FakeClock()
    access_tokens = JwtAccessTokenIssuer(SECRET, clock, TOKEN_LIFETIME)
    tickets = JwtStreamTickets(SECRET, clock, TICKET_LIFETIME)
    token, ticket = access_tokens.issue(USER).token, tickets.issue_feed(USER).token
    connection = _connection(access_tokens, {"authorization": f"Bearer {token}"})

    credential = stream_credential(connection, tickets.verify_feed, ticket, MISSING)
    clock.current += TOKEN_LIFETIME  # the token expires, the ticket would still be valid

    assert credential.principal == USER
    with pytest.raises(AuthenticationError):
        credential.check()


def test_without_a_bearer_token_the_ticket_is_checked() -> None:
    clock = FakeClock()
    access_tokens = JwtAccessTokenIssuer(SECRET, clock, TOKEN_LIFETIME)
    tickets = JwtStreamTickets(SECRET, clock, TICKET_LIFETIME)
    ticket = tickets.issue_feed(USER).token

    credential = stream_credential(_connection(access_tokens, {}), tickets.verify_feed, ticket, MISSING)
    clock.current += TOKEN_LIFETIME

    assert (credential.principal, credential.check()) == (USER, USER)


@pytest.mark.parametrize("ticket", [None, "", "x" * (MAX_TICKET_LENGTH + 1)])
def test_no_bearer_token_and_no_usable_ticket_is_refused(ticket: str | None) -> None:
    clock = FakeClock()
    access_tokens = JwtAccessTokenIssuer(SECRET, clock, TOKEN_LIFETIME)
    tickets = JwtStreamTickets(SECRET, clock, TICKET_LIFETIME)

    with pytest.raises(AuthenticationError, match=MISSING):
        stream_credential(_connection(access_tokens, {}), tickets.verify_feed, ticket, MISSING)
