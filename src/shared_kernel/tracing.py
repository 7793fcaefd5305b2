"""Spans and W3C trace context for every layer, free while tracing is off.

Nothing here imports OpenTelemetry: a program that turns tracing on installs a backend that does
(entrypoints.telemetry). Until then every span is a no-op and no trace context is read or written.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Literal, Protocol

SpanKind = Literal["internal", "server", "client", "producer", "consumer"]
Attributes = Mapping[str, str | int | float | bool]
TRACEPARENT = "traceparent"


class TracingBackend(Protocol):
    def span(
        self,
        name: str,
        parent: str | None,
        start: datetime | None,
        kind: SpanKind,
        attributes: Attributes | None,
    ) -> AbstractContextManager[None]: ...

    def record(
        self, name: str, parent: str | None, start: datetime, end: datetime, attributes: Attributes | None
    ) -> None: ...

    def traceparent(self) -> str | None: ...

    def ids(self) -> tuple[str, str] | None: ...


_backend: TracingBackend | None = None


def install(backend: TracingBackend | None) -> None:
    """Route spans to ``backend`` (None turns tracing off again)."""
    global _backend
    _backend = backend


def enabled() -> bool:
    return _backend is not None


def span(
    name: str,
    *,
    parent: str | None = None,
    start: datetime | None = None,
    kind: SpanKind = "internal",
    attributes: Attributes | None = None,
) -> AbstractContextManager[None]:
    """A span around the block, the current span inside it. ``parent`` (a ``traceparent`` value)
    continues a trace from another process; without it the span is a child of the current one."""
    if _backend is None:
        return nullcontext()
    return _backend.span(name, parent, start, kind, attributes)


def record(
    name: str, *, parent: str | None, start: datetime, end: datetime, attributes: Attributes | None = None
) -> None:
    """A span of something that already happened (a wait), from ``start`` to ``end``."""
    if _backend is not None:
        _backend.record(name, parent, start, end, attributes)


def current_traceparent() -> str | None:
    """The current span's context as a W3C ``traceparent`` value, to store or send along."""
    return _backend.traceparent() if _backend is not None else None


def inject(headers: MutableMapping[str, str]) -> None:
    """Add ``traceparent`` for the current span to outgoing request headers."""
    value = current_traceparent()
    if value is not None:
        headers[TRACEPARENT] = value


def current_ids() -> tuple[str, str] | None:
    """The current trace id and span id in hex, for log lines; None outside a span or while off."""
    return _backend.ids() if _backend is not None else None
