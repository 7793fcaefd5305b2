"""LOG_FORMAT: JSON lines off a terminal, structlog's console lines on one, either one when asked."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog

from entrypoints.analysis_server.settings import AnalysisServerSettings
from entrypoints.logging import configure_logging
from entrypoints.settings import Settings
from tests.support.logs import root_logging_restored


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    with root_logging_restored():
        yield


def logged_line(monkeypatch: pytest.MonkeyPatch, stream: io.StringIO, log_format: str) -> str:
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging("INFO", log_format)
    structlog.get_logger("test").info("job queued", job="42")
    return stream.getvalue().strip()


def is_json(line: str) -> bool:
    try:
        return json.loads(line)["event"] == "job queued"
    except ValueError:
        return False


@pytest.mark.parametrize(
    ("stream", "log_format", "json_expected"),
    [
        (io.StringIO(), "auto", True),
        (Terminal(), "auto", False),
        (Terminal(), "json", True),
        (io.StringIO(), "console", False),
    ],
    ids=["auto-off-terminal", "auto-on-terminal", "json-on-terminal", "console-off-terminal"],
)
def test_log_format_chooses_json_or_console(
    monkeypatch: pytest.MonkeyPatch, stream: io.StringIO, log_format: str, json_expected: bool
) -> None:
    line = logged_line(monkeypatch, stream, log_format)
    assert is_json(line) is json_expected
    assert "job queued" in line
    assert "42" in line


def test_log_format_defaults_to_auto() -> None:
    assert (
        Settings.from_env({}).log_format
        == AnalysisServerSettings.from_env({"ANALYSIS_SERVER_AUTH_TOKEN": "t" * 40}).log_format
        == "auto"
    )
