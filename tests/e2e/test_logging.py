"""Structured JSON logs carry the request id; unhandled errors become opaque 500 problems that are logged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from entrypoints.bootstrap import Container
from entrypoints.http.app import create_app
from entrypoints.http.problems import PROBLEM_MEDIA_TYPE, UNHANDLED_ERROR_HANDLERS, problem_details_plugin
from entrypoints.http.request_context import request_context_middleware
from entrypoints.logging import configure_logging
from entrypoints.settings import Settings
from tests.support.logs import root_logging_restored

SECRET_DETAIL = "connection to db.internal:5432 failed for user app with password hunter2"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The e2e settings, logging request lines (INFO) as JSON."""
    return replace(settings, log_level="INFO", log_format="json")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    with root_logging_restored():
        yield


def json_lines(captured: str) -> list[dict[str, Any]]:
    lines = []
    for line in captured.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            lines.append(record)
    return lines


def records_for(captured: str, request_id: str, event: str) -> list[dict[str, Any]]:
    return [
        record
        for record in json_lines(captured)
        if record.get("request_id") == request_id and record.get("event") == event
    ]


async def test_the_app_logs_each_request_as_a_json_line_with_its_request_id(
    container: Container, capsys: pytest.CaptureFixture[str]
) -> None:
    # The app is built here, not by the ``client`` fixture, so its log handler writes to captured stderr.
    async with AsyncTestClient(app=create_app(container=container)) as client:
        await client.get("/health", headers={"X-Request-ID": "test-req-1"})

    requests = records_for(capsys.readouterr().err, "test-req-1", "request")
    assert [(record["path"], record["status"]) for record in requests] == [("/health", 200)]


@get("/explode", sync_to_thread=False)
def explode() -> None:
    raise RuntimeError(SECRET_DETAIL)


def exploding_app() -> Litestar:
    """Only the problem handlers and the request-context middleware around a handler that fails."""
    return Litestar(
        route_handlers=[explode],
        exception_handlers=UNHANDLED_ERROR_HANDLERS,
        plugins=[problem_details_plugin()],
        middleware=[request_context_middleware],
        logging_config=None,
    )


async def get_explode(request_id: str = "any-request") -> httpx.Response:
    async with AsyncTestClient(app=exploding_app(), raise_server_exceptions=False) as client:
        return await client.get("/explode", headers={"X-Request-ID": request_id})


async def test_an_unhandled_exception_answers_500_problem_details() -> None:
    response = await get_explode()
    assert (response.status_code, response.headers["content-type"], response.json()["type"]) == (
        500,
        PROBLEM_MEDIA_TYPE,
        "/problems/internal",
    )


async def test_an_unhandled_exception_does_not_leak_its_text_to_the_client() -> None:
    response = await get_explode()
    assert "hunter2" not in response.text


async def test_an_unhandled_exception_is_logged_with_the_request_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")  # here, not in a fixture: stderr is captured per test phase

    await get_explode("test-req-2")

    errors = records_for(capsys.readouterr().err, "test-req-2", "unhandled error")
    assert [(record["level"], record["path"]) for record in errors] == [("error", "/explode")]
