"""JWT access tokens (HS256) carrying the user id and role."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import jwt

from application.ports.security import AccessToken
from application.ports.system import Clock
from domain.accounts import Principal, Role
from domain.errors import AuthenticationError

_ALGORITHM = "HS256"


class JwtTokenIssuer:
    def __init__(
        self, secret: str, clock: Clock, lifetime: timedelta, issuer: str = "voice-practice"
    ) -> None:
        self._secret = secret
        self._clock = clock
        self._lifetime = lifetime
        self._issuer = issuer

    def issue(self, principal: Principal) -> AccessToken:
        now = self._clock.now()
        claims = {
            "sub": str(principal.user_id),
            "role": principal.role.value,
            "iss": self._issuer,
            "iat": int(now.timestamp()),
            "exp": int((now + self._lifetime).timestamp()),
        }
        token = jwt.encode(claims, self._secret, algorithm=_ALGORITHM)
        return AccessToken(token=token, expires_in_seconds=int(self._lifetime.total_seconds()))

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                issuer=self._issuer,
                options={"require": ["sub", "exp", "iat", "iss"]},
            )
            return Principal(user_id=UUID(claims["sub"]), role=Role(claims["role"]))
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as error:
            raise AuthenticationError("the access token is invalid or expired") from error
