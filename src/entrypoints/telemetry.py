"""OpenTelemetry for a program that turns tracing on (OTEL_TRACES_EXPORTER other than `none`).

Imported only then, so a program with tracing off loads neither the SDK nor an exporter. It installs
the tracing backend of shared_kernel.tracing and provides the ASGI middleware of both HTTP apps.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, cast

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    DEFAULT_OFF,
    DEFAULT_ON,
    ParentBasedTraceIdRatio,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace.status import Status, StatusCode
from opentelemetry.util.re import parse_env_headers

from shared_kernel import tracing
from shared_kernel.settings import TracingSettings
from shared_kernel.tracing import TRACEPARENT, Attributes, SpanKind

if TYPE_CHECKING:
    # Only types: a worker with tracing on imports this module and serves no Litestar app.
    from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

_KINDS = {
    "internal": trace.SpanKind.INTERNAL,
    "server": trace.SpanKind.SERVER,
    "client": trace.SpanKind.CLIENT,
    "producer": trace.SpanKind.PRODUCER,
    "consumer": trace.SpanKind.CONSUMER,
}


def _nanoseconds(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000_000)


def _context(parent: str | None) -> Context | None:
    """The remote parent a ``traceparent`` value names; None (the current span) when there is none."""
    return propagate.extract({TRACEPARENT: parent}) if parent else None


class OpenTelemetryBackend:
    """shared_kernel.tracing's backend on an OpenTelemetry tracer."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    @contextmanager
    def span(
        self,
        name: str,
        parent: str | None,
        start: datetime | None,
        kind: SpanKind,
        attributes: Attributes | None,
    ) -> Iterator[None]:
        with self._tracer.start_as_current_span(
            name,
            context=_context(parent),
            kind=_KINDS[kind],
            attributes=attributes,
            start_time=_nanoseconds(start) if start else None,
        ):
            yield

    def record(
        self, name: str, parent: str | None, start: datetime, end: datetime, attributes: Attributes | None
    ) -> None:
        span = self._tracer.start_span(
            name, context=_context(parent), attributes=attributes, start_time=_nanoseconds(start)
        )
        span.end(end_time=max(_nanoseconds(end), _nanoseconds(start)))

    def traceparent(self) -> str | None:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        return carrier.get(TRACEPARENT)

    def ids(self) -> tuple[str, str] | None:
        context = trace.get_current_span().get_span_context()
        if not context.is_valid:
            return None
        return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)


def _sampler(settings: TracingSettings) -> Sampler:
    by_name: dict[str, Sampler] = {
        "always_on": ALWAYS_ON,
        "always_off": ALWAYS_OFF,
        "parentbased_always_on": DEFAULT_ON,
        "parentbased_always_off": DEFAULT_OFF,
    }
    if settings.sampler == "traceidratio":
        return TraceIdRatioBased(settings.sampler_ratio)
    if settings.sampler == "parentbased_traceidratio":
        return ParentBasedTraceIdRatio(settings.sampler_ratio)
    return by_name[settings.sampler]


def _exporter(settings: TracingSettings) -> SpanExporter:
    if settings.exporter == "console":
        return ConsoleSpanExporter(out=sys.stdout)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    headers = parse_env_headers(settings.otlp_headers, liberal=True) if settings.otlp_headers else None
    return OTLPSpanExporter(endpoint=f"{settings.otlp_endpoint}/v1/traces", headers=headers)


_started: list[TracerProvider] = []


def start_tracing(settings: TracingSettings, program: str) -> TracerProvider:
    """Export this process's spans as ``settings`` say, named ``OTEL_SERVICE_NAME`` or ``program``;
    once per process (OpenTelemetry's provider is global), later calls return the first provider.

    The provider flushes its last spans when the process exits normally (an atexit hook)."""
    if _started:
        return _started[0]
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: settings.service_name or program}),
        sampler=_sampler(settings),
    )
    provider.add_span_processor(
        BatchSpanProcessor(_exporter(settings), schedule_delay_millis=settings.export_delay_ms)
    )
    trace.set_tracer_provider(provider)
    tracing.install(OpenTelemetryBackend(trace.get_tracer("voice-practice")))
    _started.append(provider)
    return provider


def tracing_middleware(app: ASGIApp) -> ASGIApp:
    """A server span around each HTTP request, continuing the caller's trace when it sends
    ``traceparent``; named by the route's template (``POST /webhooks/analysis``)."""
    tracer = trace.get_tracer("voice-practice.http")

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        kind: str = scope["type"]  # Litestar's ScopeType is a str enum, its module not imported here
        if kind != "http":
            await app(scope, receive, send)
            return
        http = cast("HTTPScope", scope)
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in http["headers"]}
        route = http.get("path_template") or http["path"]
        method = http["method"]
        with tracer.start_as_current_span(
            f"{method} {route}",
            context=propagate.extract(headers),
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": method, "http.route": route, "url.path": http["path"]},
        ) as span:

            async def send_with_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = message["status"]
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                await send(message)

            await app(scope, receive, send_with_status)

    return middleware
