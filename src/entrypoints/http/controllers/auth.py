"""Sign up, log in (OAuth2 password flow) and the current account."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, JSONBody

from application.accounts import Credentials, SignUpRequest
from entrypoints.http.schemas import SignUpBody, TokenResponse, UserOut
from entrypoints.http.security import PRINCIPAL, Caller, Services


class PasswordForm(msgspec.Struct):
    """OAuth2 password grant form; ``username`` carries the email."""

    username: str
    password: str
    grant_type: str | None = None
    scope: str | None = None


class AuthController(Controller):
    path = "/auth"
    tags = ["accounts"]

    @post("/signup", status_code=201)
    async def sign_up(self, services: Services, data: JSONBody[SignUpBody]) -> UserOut:
        """Create a user account. The email must not be taken (409 otherwise)."""
        user = await services.registration.sign_up(
            SignUpRequest(email=data.email, password=data.password, display_name=data.display_name)
        )
        return UserOut.of(user)

    @post("/login", status_code=200)
    async def log_in(
        self,
        services: Services,
        data: Annotated[PasswordForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> TokenResponse:
        """OAuth2 password flow: exchange email (as ``username``) and password for a bearer token.

        Wrong email and wrong password give the same 401 answer.
        """
        token = await services.authentication.log_in(Credentials(email=data.username, password=data.password))
        return TokenResponse(access_token=token.token, expires_in=token.expires_in_seconds)

    @get("/me", dependencies=PRINCIPAL)
    async def me(self, services: Services, principal: Caller) -> UserOut:
        """The signed-in account."""
        return UserOut.of(await services.profiles.me(principal))
