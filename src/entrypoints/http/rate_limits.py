"""Rate limits shared by every API instance (Redis): uploads per user, log-ins per account and address.

A refused request is a 429 ``/problems/rate-limited`` problem with ``Retry-After``. When Redis does not
answer, requests are let through (fail open) and counted in ``voicepractice_rate_limiter_errors_total``:
a Redis outage must not lock every user out of logging in, and each log-in still costs an Argon2 hash,
which bounds how fast one instance can check guessed passwords. /ready reports Redis as down
meanwhile, so the gap is visible rather than silent.
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from adapters.ratelimit.redis_gcra import RateLimiterUnavailableError
from entrypoints.bootstrap import Container
from entrypoints.http.metrics import ApiMetrics
from entrypoints.http.problems import ProblemError
from entrypoints.http.security import container_of, signed_in
from entrypoints.settings import Rate

UPLOAD = "upload"
LOGIN_ACCOUNT = "login_account"
LOGIN_ADDRESS = "login_address"
SIGN_UP_ADDRESS = "sign_up_address"
_WHAT = {
    UPLOAD: "uploads",
    LOGIN_ACCOUNT: "log-in attempts",
    LOGIN_ADDRESS: "log-in attempts",
    SIGN_UP_ADDRESS: "sign-ups",
}
logger = structlog.get_logger(__name__)

Connection = ASGIConnection[Any, Any, Any, Any]


def client_address(connection: Connection, container: Container) -> str:
    """The caller's address: the platform's header when configured (clients cannot forge it), else the
    connection's peer as uvicorn's proxy-header handling left it."""
    header = container.settings.client_ip_header
    if header:
        value = connection.headers.get(header, "").split(",")[0].strip()
        if value:
            return value
    return connection.client.host if connection.client else "unknown"


async def enforce(connection: Connection, limit: str, subject: str, rate: Rate | None) -> None:
    """Count one request of ``subject`` against ``rate``; raise the 429 problem when it is spent."""
    if rate is None:
        return
    container = container_of(connection)
    metrics: ApiMetrics = connection.app.state.metrics
    try:
        decision = await container.rate_limiter.hit(limit, subject, rate.count, rate.period_seconds)
    except RateLimiterUnavailableError as error:
        metrics.rate_limiter_errors.labels(limit).inc()
        logger.warning("rate limiter unavailable; request let through", limit=limit, error=str(error))
        return
    if decision.allowed:
        return
    metrics.rate_limited.labels(limit).inc()
    raise ProblemError(
        429,
        "rate-limited",
        f"too many {_WHAT[limit]}: at most {rate.count} per {rate.period_seconds} s; "
        f"try again in {decision.retry_after_header} s",
        {"Retry-After": decision.retry_after_header},
    )


async def limit_log_in(connection: Connection, email: str) -> None:
    """Before checking a password: the caller's address first, then the account it tries."""
    container = container_of(connection)
    settings = container.settings
    address = client_address(connection, container)
    await enforce(connection, LOGIN_ADDRESS, address, settings.login_rate_limit_per_address)
    # Not normalise_email: a malformed address must still get log-in's usual 401, not a 422 from here.
    account = email.strip().lower()
    await enforce(connection, LOGIN_ACCOUNT, account, settings.login_rate_limit_per_account)


async def limit_sign_up(connection: Connection, _: BaseRouteHandler) -> None:
    """Litestar guard for sign-up: at most SIGN_UP_RATE_LIMIT_PER_ADDRESS accounts per client address.

    Each sign-up costs an Argon2 hash and a row; a guard runs before the body is read or hashed.
    """
    container = container_of(connection)
    address = client_address(connection, container)
    await enforce(connection, SIGN_UP_ADDRESS, address, container.settings.sign_up_rate_limit_per_address)


async def limit_uploads(connection: Connection, _: BaseRouteHandler) -> None:
    """Litestar guard for the routes that create analysis jobs: at most UPLOAD_RATE_LIMIT per user.

    Guards run before the body is read, so a refused upload costs no bandwidth or decoding. Without a
    bearer token the guard does nothing and the route's own authentication answers 401.
    """
    principal = signed_in(connection)
    if principal is None:
        return
    await enforce(
        connection, UPLOAD, str(principal.user_id), container_of(connection).settings.upload_rate_limit
    )
