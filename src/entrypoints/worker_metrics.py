"""Prometheus metrics of the worker: relay attempts and failures, served on WORKER_METRICS_HOST:PORT.

The relay runs in the worker, so its counters live in the worker's own registry and its own small
HTTP server (prometheus_client's, in a daemon thread); Prometheus scrapes every worker separately.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from wsgiref.simple_server import WSGIServer

import structlog
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    start_http_server,
)

from application.analysis.relay import RelayOutcome

PREFIX = "voicepractice"
RELAY_SOURCES = ("fast_path", "sweep")
# Outcomes in which a request went out to an analysis server, and those of them that failed.
_ATTEMPTED = frozenset({"sent", "retry", "failed"})
_FAILED = {"retry": "false", "failed": "true"}
logger = structlog.get_logger(__name__)


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        if registry is None:
            registry = CollectorRegistry()
            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                registry.register(collector)
        self.registry = registry
        self.relay_attempts = Counter(
            f"{PREFIX}_relay_attempts",
            "Analysis requests sent to an analysis server, by how the row was picked up",
            ["source"],
            registry=registry,
        )
        self.relay_failures = Counter(
            f"{PREFIX}_relay_failures",
            "Analysis requests that failed; final=true when the job failed with them (no retry left)",
            ["source", "final"],
            registry=registry,
        )
        self.relay_skipped = Counter(
            f"{PREFIX}_relay_skipped",
            "Outbox rows settled without a request (job finished or reference gone)",
            ["source"],
            registry=registry,
        )
        for source in RELAY_SOURCES:
            self.relay_attempts.labels(source)
            self.relay_skipped.labels(source)
            for final in _FAILED.values():
                self.relay_failures.labels(source, final)

    def record_relay(self, outcomes: Iterable[RelayOutcome], source: str) -> None:
        """Count what the relay did (``source``: ``fast_path`` for a wake-up's claim or an older API's SAQ
        job, ``sweep`` for the sweep)."""
        if source not in RELAY_SOURCES:
            raise ValueError(f"unknown relay source: {source}")
        for item in outcomes:
            if item.outcome in _ATTEMPTED:
                self.relay_attempts.labels(source).inc()
            if item.outcome in _FAILED:
                self.relay_failures.labels(source, _FAILED[item.outcome]).inc()
            elif item.outcome == "skipped":
                self.relay_skipped.labels(source).inc()


class WorkerMetricsServer:
    """``GET /metrics`` of one registry on ``host`` and ``port`` (0 turns it off), stopped with the worker."""

    def __init__(self, registry: CollectorRegistry, port: int, host: str = "127.0.0.1") -> None:
        self._registry = registry
        self._port = port
        # Fly's private network (where its Prometheus scrapes) is IPv6: "::" takes IPv4 too, and falls
        # back to IPv4 alone where the host has no IPv6.
        self._hosts = (host, "0.0.0.0") if host == "::" else (host,)  # noqa: S104
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int | None:
        """The bound port once started."""
        return self._server.server_port if self._server is not None else None

    @property
    def address(self) -> str | None:
        """The bound address once started."""
        return str(self._server.server_address[0]) if self._server is not None else None

    def start(self) -> None:
        """Serve in a daemon thread; a port already taken costs the metrics, never the worker."""
        if self._port == 0 or self._server is not None:
            return
        error: OSError | None = None
        for host in self._hosts:
            try:
                self._server, self._thread = start_http_server(self._port, host, self._registry)
            except OSError as failure:
                error = failure
                continue
            logger.info("worker metrics served", host=host, port=self.port, path="/metrics")
            return
        logger.warning("worker metrics not served", port=self._port, error=str(error))

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None
