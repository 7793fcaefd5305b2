"""Tracing: off by default without importing OpenTelemetry; on, spans continue a trace from a traceparent,
and log lines carry the current trace and span ids."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from entrypoints.logging import configure_logging
from entrypoints.settings import Settings
from entrypoints.telemetry import OpenTelemetryBackend
from shared_kernel import tracing
from shared_kernel.settings import ConfigurationError
from tests.support.logs import root_logging_restored
from tests.support.processes import REPO_ROOT

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
REMOTE_PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"

# Starts every program's configuration as the processes do, runs the code paths that trace, and prints
# the OpenTelemetry tracing modules loaded by then (redis-py loads OpenTelemetry's metrics API).
PROGRAMS = """
import sys
TRACING = ("opentelemetry.sdk", "opentelemetry.exporter", "opentelemetry.trace", "opentelemetry.propagate")
from datetime import UTC, datetime
from entrypoints.analysis_server.settings import AnalysisServerSettings
from entrypoints.http.app import API_SERVICE_NAME, create_app
from entrypoints.observability import start_tracing_if_on
from entrypoints.settings import Settings
from entrypoints.worker import WORKER_SERVICE_NAME
from shared_kernel import tracing

create_app(Settings.from_env())
start_tracing_if_on(Settings.from_env().tracing, WORKER_SERVICE_NAME)
start_tracing_if_on(AnalysisServerSettings.from_env().tracing, "voice-practice-analysis")
with tracing.span("upload"):
    tracing.record("outbox.wait", parent=tracing.current_traceparent(), start=datetime.now(UTC),
                   end=datetime.now(UTC))
    tracing.inject({})
print(" ".join(sorted(name for name, module in sys.modules.items() if module and name.startswith(TRACING))))
"""


def _modules_loaded(**env: str) -> set[str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    finished = subprocess.run(
        [sys.executable, "-c", PROGRAMS],
        cwd=REPO_ROOT,
        env={
            **clean,
            "PYTHONPATH": str(REPO_ROOT / "src"),
            "APP_ENV": "test",
            "ANALYSIS_SERVER_AUTH_TOKEN": "tracing-test-bearer-token-0123456789abcdef",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    return set(finished.stdout.split())


def test_with_tracing_off_no_tracing_module_of_opentelemetry_is_loaded() -> None:
    assert _modules_loaded() == set()


def test_with_the_console_exporter_the_sdk_is_loaded_and_no_otlp_exporter() -> None:
    loaded = _modules_loaded(OTEL_TRACES_EXPORTER="console")

    assert "opentelemetry.sdk.trace" in loaded
    assert not any(name.startswith("opentelemetry.exporter.otlp") for name in loaded)


def test_tracing_is_off_unless_an_exporter_is_named() -> None:
    assert not Settings.from_env({}).tracing.enabled
    assert Settings.from_env({"OTEL_TRACES_EXPORTER": "OTLP"}).tracing.enabled


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OTEL_TRACES_EXPORTER", "jaeger"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
    ],
)
def test_a_tracing_variable_the_programs_cannot_honour_is_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env({name: value})


def test_while_tracing_is_off_spans_are_nothing_and_no_context_is_sent() -> None:
    headers: dict[str, str] = {}
    with tracing.span("upload", parent=REMOTE_PARENT):
        tracing.inject(headers)
        assert tracing.current_traceparent() is None

    assert headers == {}


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(OpenTelemetryBackend(provider.get_tracer("test")))
    try:
        yield exporter
    finally:
        tracing.install(None)
        provider.shutdown()


def test_a_span_given_a_traceparent_continues_that_trace_as_its_child(exported: InMemorySpanExporter) -> None:
    headers: dict[str, str] = {}
    with tracing.span("analysis.dispatch", parent=REMOTE_PARENT):
        tracing.inject(headers)

    [span] = exported.get_finished_spans()
    assert span.context is not None
    assert span.parent is not None
    assert (format(span.context.trace_id, "032x"), format(span.parent.span_id, "016x")) == (
        TRACE_ID,
        "00f067aa0ba902b7",
    )
    assert headers["traceparent"] == f"00-{TRACE_ID}-{format(span.context.span_id, '016x')}-01"


def test_a_recorded_span_spans_the_wait_it_stands_for(exported: InMemorySpanExporter) -> None:
    start = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)

    tracing.record("outbox.wait", parent=REMOTE_PARENT, start=start, end=start + timedelta(seconds=2))

    [span] = exported.get_finished_spans()
    assert span.end_time is not None
    assert span.start_time is not None
    assert span.end_time - span.start_time == 2_000_000_000


def test_log_lines_inside_a_span_carry_its_trace_and_span_ids(
    exported: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    with root_logging_restored():
        configure_logging("INFO", "json")
        with tracing.span("upload", parent=REMOTE_PARENT):
            structlog.get_logger("test").info("inside")
        structlog.get_logger("test").info("outside")

    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    [span] = exported.get_finished_spans()
    assert span.context is not None
    assert (inside["trace_id"], inside["span_id"]) == (TRACE_ID, format(span.context.span_id, "016x"))
    assert "trace_id" not in outside
