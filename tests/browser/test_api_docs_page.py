"""The API docs page in a real browser: Swagger UI runs from the service's own files under the page's CSP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.async_api import Page, Request

from tests.support.full_system import System, own_redis_database
from tests.support.processes import api_process

REDIS_DATABASE = 12


@pytest.fixture(scope="module")
def api(database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API alone, on the session's migrated database: the docs need nothing else."""
    system = System.configure(
        database_url, own_redis_database(redis_url, REDIS_DATABASE), tmp_path_factory.mktemp("api-docs")
    )
    process = api_process(system.env, system.log_dir, system.api_port)
    process.start(timeout=120.0)
    try:
        yield system.api_url
    finally:
        process.terminate()
        process.wait(30.0)


async def test_swagger_ui_renders_the_api_from_the_services_own_files(desktop_page: Page, api: str) -> None:
    violations: list[str] = []
    elsewhere: list[str] = []
    desktop_page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )

    def record(request: Request) -> None:
        if not request.url.startswith(api) and not request.url.startswith("data:"):
            elsewhere.append(request.url)

    desktop_page.on("request", record)

    await desktop_page.goto(f"{api}/schema/swagger")

    await desktop_page.locator(".swagger-ui .info .title", has_text="Voice practice API").wait_for()
    await desktop_page.locator(".opblock-summary-path", has_text="/v1/auth/login").first.wait_for()
    assert (violations, elsewhere) == ([], [])
