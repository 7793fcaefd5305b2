"""Routers built for one mount are registered as themselves, not copied, and refuse a second mount."""

from __future__ import annotations

import pytest
from litestar import Litestar, get
from litestar.exceptions import ImproperlyConfiguredException
from litestar.testing import TestClient

from entrypoints.http.routing import MountedOnce


@get("/ping", sync_to_thread=False)
def ping() -> str:
    return "pong"


def test_a_router_mounted_once_is_registered_as_itself_and_serves() -> None:
    router = MountedOnce(path="/once", route_handlers=[ping])
    app = Litestar(route_handlers=[router])

    assert router.owner is app  # registered as built: Litestar deep-copies a plain Router
    with TestClient(app) as client:
        assert client.get("/once/ping").text == "pong"


def test_a_router_mounted_once_refuses_a_second_mount() -> None:
    router = MountedOnce(path="/once", route_handlers=[ping])
    Litestar(route_handlers=[router])

    with pytest.raises(ImproperlyConfiguredException, match="mounted already"):
        Litestar(route_handlers=[router])


def test_nested_routers_mounted_once_are_registered_as_themselves() -> None:
    inner = MountedOnce(path="/inner", route_handlers=[ping])
    outer = MountedOnce(path="/outer", route_handlers=[inner])
    app = Litestar(route_handlers=[outer])

    assert inner.owner is outer
    assert outer.owner is app
    with TestClient(app) as client:
        assert client.get("/outer/inner/ping").text == "pong"
