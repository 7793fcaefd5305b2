"""Signed tokens (HS256 JWT): access tokens carrying the user id and role, and stream tickets that let a
client which cannot send headers (a browser's EventSource or WebSocket) follow one job's events, or the
user's feed of all their jobs' events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import jwt

from application.ports.security import AccessToken
from application.ports.system import Clock
from domain.accounts import Principal, Role
from domain.errors import AuthenticationError

_ALGORITHM = "HS256"
_REQUIRED = ["sub", "exp", "iat", "iss"]
STREAM_AUDIENCE = "job-events"
FEED_AUDIENCE = "user-events"
VERIFIED_TOKENS_KEPT = 4096


class _Signer:
    def __init__(self, secret: str, clock: Clock, lifetime: timedelta, issuer: str) -> None:
        self._secret = secret
        self._clock = clock
        self._lifetime = lifetime
        self._issuer = issuer

    def sign(self, principal: Principal, **claims: str) -> AccessToken:
        now = self._clock.now()
        payload = {
            "sub": str(principal.user_id),
            "role": principal.role.value,
            "iss": self._issuer,
            "iat": int(now.timestamp()),
            "exp": int((now + self._lifetime).timestamp()),
            **claims,
        }
        token = jwt.encode(payload, self._secret, algorithm=_ALGORITHM)
        return AccessToken(token=token, expires_in_seconds=int(self._lifetime.total_seconds()))

    def claims(self, token: str, audience: str | None, required: list[str]) -> dict[str, Any]:
        """The verified claims; a token with an audience never passes where none is expected. ``exp``
        is checked against the clock (as PyJWT would against the system's: expired once exp <= now)."""
        claims: dict[str, Any] = jwt.decode(
            token,
            self._secret,
            algorithms=[_ALGORITHM],
            issuer=self._issuer,
            audience=audience,
            options={"require": required, "verify_exp": False},
        )
        if not self.unexpired(claims["exp"]):
            raise jwt.ExpiredSignatureError("Signature has expired")
        return claims

    def unexpired(self, exp: object) -> bool:
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise jwt.DecodeError("Expiration Time claim (exp) must be a number.")
        return self._clock.now().timestamp() < exp


def _principal(claims: dict[str, Any]) -> Principal:
    return Principal(user_id=UUID(claims["sub"]), role=Role(claims["role"]))


class JwtAccessTokenIssuer:
    """Access tokens. A client sends the same token with every request until it expires, so the
    principal of a token whose signature and claims were verified is remembered (the last
    ``VERIFIED_TOKENS_KEPT`` tokens, by their exact text) until its ``exp``: a repeat costs a dict
    lookup and an expiry check instead of the base64, JSON and HMAC work (issue 12's upload profile).
    Any other text, a single character changed included, is verified in full."""

    def __init__(
        self, secret: str, clock: Clock, lifetime: timedelta, issuer: str = "voice-practice"
    ) -> None:
        self._signer = _Signer(secret, clock, lifetime, issuer)
        self._verified: dict[str, tuple[Principal, float]] = {}

    def issue(self, principal: Principal) -> AccessToken:
        return self._signer.sign(principal)

    def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            principal, expires_at = known
            if self._signer.unexpired(expires_at):
                return principal
            del self._verified[token]
        try:
            claims = self._signer.claims(token, None, _REQUIRED)
            principal = _principal(claims)
            expires_at = float(claims["exp"])
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as error:
            raise AuthenticationError("the access token is invalid or expired") from error
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            del self._verified[next(iter(self._verified))]  # the oldest remembered
        self._verified[token] = (principal, expires_at)
        return principal


class JwtStreamTickets:
    """A ticket names one job and opens nothing else: not another job's stream, not the rest of the API
    (its audience makes an access-token check reject it)."""

    def __init__(
        self, secret: str, clock: Clock, lifetime: timedelta, issuer: str = "voice-practice"
    ) -> None:
        self._signer = _Signer(secret, clock, lifetime, issuer)

    def issue(self, principal: Principal, job_id: UUID) -> AccessToken:
        return self._signer.sign(principal, aud=STREAM_AUDIENCE, job=str(job_id))

    def verify(self, ticket: str, job_id: UUID) -> Principal:
        try:
            claims = self._signer.claims(ticket, STREAM_AUDIENCE, [*_REQUIRED, "aud", "job"])
            if UUID(claims["job"]) != job_id:
                raise AuthenticationError("the stream ticket is for another job")
            return _principal(claims)
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as error:
            raise AuthenticationError("the stream ticket is invalid or expired") from error

    def issue_feed(self, principal: Principal) -> AccessToken:
        return self._signer.sign(principal, aud=FEED_AUDIENCE)

    def verify_feed(self, ticket: str) -> Principal:
        try:
            return _principal(self._signer.claims(ticket, FEED_AUDIENCE, [*_REQUIRED, "aud"]))
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as error:
            raise AuthenticationError("the feed ticket is invalid or expired") from error
