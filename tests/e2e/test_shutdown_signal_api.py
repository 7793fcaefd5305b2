"""``app.state.shutting_down``: what long-lived responses (SSE) watch to end with a retry hint."""

from __future__ import annotations

from entrypoints.bootstrap import Container
from entrypoints.http.app import create_app


async def test_the_shutdown_event_is_clear_while_the_app_runs(container: Container) -> None:
    app = create_app(container=container)
    async with app.lifespan():
        assert not app.state.shutting_down.is_set()


async def test_the_shutdown_event_is_set_when_the_app_stops(container: Container) -> None:
    app = create_app(container=container)
    async with app.lifespan():
        pass
    assert app.state.shutting_down.is_set()
