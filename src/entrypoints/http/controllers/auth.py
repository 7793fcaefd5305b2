"""Sign up, log in (OAuth2 password flow) and the current account."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, JSONBody

from application.accounts import Authentication, Credentials, Profiles, Registration, SignUpRequest
from entrypoints.http.dependencies import Injected
from entrypoints.http.rate_limits import limit_log_in, limit_sign_up
from entrypoints.http.schemas import AccessTokenResponse, SignUpBody, UserOut
from entrypoints.http.security import Caller


class PasswordForm(msgspec.Struct):
    """OAuth2 password grant form; ``username`` carries the email."""

    username: str
    password: str
    grant_type: str | None = None
    scope: str | None = None


class AuthController(Controller):
    path = "/auth"
    tags = ["accounts"]

    @post("/signup", status_code=201, guards=[limit_sign_up])
    async def sign_up(self, registration: Injected[Registration], data: JSONBody[SignUpBody]) -> UserOut:
        """Create a user account. The email must not be taken (409 otherwise).

        Sign-ups are limited per client address (SIGN_UP_RATE_LIMIT_PER_ADDRESS, 10 an hour by default):
        beyond that, 429 with ``Retry-After``.
        """
        user = await registration.sign_up(
            SignUpRequest(email=data.email, password=data.password, display_name=data.display_name)
        )
        return UserOut.of(user)

    @post("/login", status_code=200)
    async def log_in(
        self,
        request: Request[Any, Any, Any],
        authentication: Injected[Authentication],
        data: Annotated[PasswordForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> AccessTokenResponse:
        """OAuth2 password flow: exchange email (as ``username``) and password for a bearer token.

        Wrong email and wrong password give the same 401 answer. Attempts are limited per account and
        per client address (LOGIN_RATE_LIMIT_PER_ACCOUNT, LOGIN_RATE_LIMIT_PER_ADDRESS; 10 a minute
        each by default): beyond that, 429 with ``Retry-After``.
        """
        await limit_log_in(request, data.username)
        access_token = await authentication.log_in(Credentials(email=data.username, password=data.password))
        return AccessTokenResponse(
            access_token=access_token.token, expires_in=access_token.expires_in_seconds
        )

    @get("/me")
    async def me(self, profiles: Injected[Profiles], principal: Caller) -> UserOut:
        """The signed-in account."""
        return UserOut.of(await profiles.me(principal))
