"""An OTLP/HTTP trace collector in the test process: it decodes what exporters POST to ``/v1/traces``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.support.threaded_server import listening_socket, read_body, serve_in_thread, stop_serving

KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


@dataclass(frozen=True, slots=True)
class ReceivedSpan:
    service: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_id: str | None
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]


def _value(any_value: Any) -> Any:
    field = any_value.WhichOneof("value")
    return getattr(any_value, field) if field else None


def _spans(request: ExportTraceServiceRequest) -> Iterator[ReceivedSpan]:
    for resource_spans in request.resource_spans:
        resource = {item.key: _value(item.value) for item in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield ReceivedSpan(
                    service=resource.get("service.name", ""),
                    name=span.name,
                    kind=KINDS.get(span.kind, "unspecified"),
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    parent_id=span.parent_span_id.hex() or None,
                    start_ns=span.start_time_unix_nano,
                    end_ns=span.end_time_unix_nano,
                    attributes={item.key: _value(item.value) for item in span.attributes},
                )


class OtlpCollector:
    """Collects the spans of every export; answers anything but ``POST /v1/traces`` with 404."""

    def __init__(self) -> None:
        self._spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._spans)

    def wait_for(
        self, found: Callable[[list[ReceivedSpan]], bool], timeout: float = 30.0
    ) -> list[ReceivedSpan]:
        """The spans received, once ``found`` accepts them (AssertionError after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while not found(spans := self.spans):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the spans wanted did not arrive; got {sorted({s.name for s in spans})}"
                )
            time.sleep(0.1)
        return spans

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        if scope["method"] != "POST" or scope["path"] != "/v1/traces":
            await self._answer(send, 404, b"")
            return
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        with self._lock:
            self._spans.extend(_spans(request))
        await self._answer(send, 200, ExportTraceServiceResponse().SerializeToString())

    @staticmethod
    async def _answer(send: Any, status: int, body: bytes) -> None:
        headers = [(b"content-type", b"application/x-protobuf")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@contextmanager
def running_collector() -> Iterator[OtlpCollector]:
    collector = OtlpCollector()
    listener = listening_socket()
    collector.port = listener.getsockname()[1]
    server, thread = serve_in_thread(collector, listener, name="OTLP collector")
    try:
        yield collector
    finally:
        stop_serving(server, thread)
