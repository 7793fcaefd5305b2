"""Authentication in one place: ``BearerAuthentication`` reads the ``Authorization`` header of every
routed request and sets the user (a ``Principal``, or None); a token sent but refused is kept as the
reason, raised by whatever needs the user (a handler's ``principal``, a guard). A token claiming the admin
role is checked against the account, so demoting an admin takes effect on the next request."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from domain.accounts import Principal, Role
from domain.errors import AuthenticationError
from entrypoints.bootstrap import Container

Connection = ASGIConnection[Any, Any, Any, Any]
SIGN_IN = "sign in first: send 'Authorization: Bearer <access token>'"
# Tickets are short JWTs; a longer ?ticket= is refused before any parsing.
MAX_TICKET_LENGTH = 4096


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None for any other or no header."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def container_of(connection: Connection) -> Container:
    container: Container = connection.app.state.container
    return container


class BearerAuthentication(AbstractAuthenticationMiddleware):
    """Sets ``user`` to the token's ``Principal`` (None without a token) and ``auth`` to the reason a
    token was refused (None otherwise)."""

    async def authenticate_request(self, connection: Connection) -> AuthenticationResult:
        token = bearer_token(connection.headers)
        if token is None:
            return AuthenticationResult(user=None, auth=None)
        container = container_of(connection)
        try:
            principal = container.authentication.authenticate(token)
            if principal.role is Role.ADMIN:
                # Admin rights are checked against the account on every request (one primary-key read,
                # admins only): a token alone would keep a demoted admin an admin until it expired.
                principal = await container.profiles.confirm(principal)
        except AuthenticationError as refusal:
            return AuthenticationResult(user=None, auth=refusal)
        return AuthenticationResult(user=principal, auth=None)


def signed_in(connection: Connection) -> Principal | None:
    """The caller the bearer token names; None without one; a refused token raises its reason (401)."""
    refusal = connection.scope.get("auth")
    if isinstance(refusal, AuthenticationError):
        raise refusal
    user = connection.scope.get("user")
    return user if isinstance(user, Principal) else None


def current_principal(request: Request[Any, Any, Any]) -> Principal:
    principal = signed_in(request)
    if principal is None:
        raise AuthenticationError(SIGN_IN)
    return principal


Caller = NamedDependency[Principal]


@dataclass(frozen=True)
class StreamCredential:
    """Who opened a long-lived connection (an event stream, the live feed's WebSocket), and ``check``:
    the same credential verified again, which the connection repeats at every heartbeat and ends on
    once it raises ``AuthenticationError`` (an expired ticket or token)."""

    principal: Principal
    check: Callable[[], Principal]

    def watch(self, interval: float) -> CredentialWatch:
        """The check as the connection repeats it: at heartbeats, and every ``interval`` while busy."""
        return CredentialWatch(self.check, interval)


class CredentialWatch:
    """A long-lived connection's credential checked again: at every heartbeat, and while events flow
    without a pause long enough for one, at least every ``interval`` seconds (on an event), so a busy
    stream does not outlive its ticket or token either."""

    def __init__(
        self, check: Callable[[], object], interval: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._check = check
        self._interval = interval
        self._clock = clock
        self._due = clock() + interval

    def refusal(self, *, heartbeat: bool) -> AuthenticationError | None:
        """Why the credential no longer holds, or None; checked only at a heartbeat or when due."""
        now = self._clock()
        if not heartbeat and now < self._due:
            return None
        self._due = now + self._interval
        try:
            self._check()
        except AuthenticationError as refusal:
            return refusal
        return None


def stream_credential(
    connection: Connection, verify_ticket: Callable[[str], Principal], ticket: str | None, missing: str
) -> StreamCredential:
    """The connection's bearer token, which wins, or else its ``?ticket=`` (checked by ``verify_ticket``);
    ``missing`` is the refusal when it has neither. A check is a JWT verification, no database read:
    an admin's role is confirmed against the account when the connection opens, as on any request."""
    token = bearer_token(connection.headers)
    check: Callable[[], Principal]
    if token is not None:
        check = partial(container_of(connection).authentication.authenticate, token)
    elif ticket and len(ticket) <= MAX_TICKET_LENGTH:
        check = partial(verify_ticket, ticket)
    else:
        raise AuthenticationError(missing)
    principal = signed_in(connection)
    return StreamCredential(principal if principal is not None else check(), check)
