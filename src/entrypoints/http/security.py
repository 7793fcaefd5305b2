"""Bearer-token authentication as Litestar dependencies."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency, Provide

from domain.accounts import Principal
from domain.errors import AuthenticationError
from entrypoints.bootstrap import Container


def _bearer_token(request: Request[Any, Any, Any]) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def bearer_principal(request: Request[Any, Any, Any]) -> Principal | None:
    """The caller named by the Authorization header; None when no bearer token is sent."""
    token = _bearer_token(request)
    if token is None:
        return None
    container: Container = request.app.state.container
    return container.authentication.authenticate(token)


def current_principal(request: Request[Any, Any, Any]) -> Principal:
    principal = bearer_principal(request)
    if principal is None:
        raise AuthenticationError("sign in first: send 'Authorization: Bearer <access token>'")
    return principal


def services(request: Request[Any, Any, Any]) -> Container:
    container: Container = request.app.state.container
    return container


PRINCIPAL = {"principal": Provide(current_principal, sync_to_thread=False)}
SERVICES = {"services": Provide(services, sync_to_thread=False)}

Services = NamedDependency[Container]
Caller = NamedDependency[Principal]
