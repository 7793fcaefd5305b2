"""Turning tracing on at a program's start, without importing OpenTelemetry while it is off."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared_kernel.settings import TracingSettings

if TYPE_CHECKING:
    # Only a type: the worker and the analysis server import this module and need no Litestar.
    from litestar.types import Middleware


def start_tracing_if_on(settings: TracingSettings, program: str) -> list[Middleware]:
    """Start exporting spans when ``OTEL_TRACES_EXPORTER`` asks for it; the HTTP apps put the returned
    middleware (a server span per request, none while off) outside their own."""
    if not settings.enabled:
        return []
    from entrypoints.telemetry import start_tracing, tracing_middleware

    start_tracing(settings, program)
    return [tracing_middleware]
