"""Prometheus metrics of the API, served at ``GET /metrics`` (optionally behind ``METRICS_TOKEN``).

Each app has its own registry (tests build many apps in one process). Request latency is measured from
the moment the request reaches the app until its response headers are sent, so a Server-Sent Events
stream counts the time to open it, not the minutes it stays open.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from application.analysis.webhooks import WebhookOutcome
from application.operations import PipelineSnapshot, PipelineStatistics
from domain.analysis.jobs import JobStatus
from domain.catalog import ReferenceKind
from entrypoints.http.dependencies import Injected
from entrypoints.http.problems import ProblemError
from entrypoints.http.security import bearer_token
from entrypoints.settings import Settings

PREFIX = "voicepractice"
UNMATCHED_ROUTE = "unmatched"
"""The route label of requests no route matched (404s for unknown paths, 405s), so probes of random
paths cannot mint a new series each."""
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
PIPELINE_CACHE_SECONDS = 5.0
WEBHOOK_REJECTION_REASONS = ("malformed", "signature", "payload")
RATE_LIMITS = ("upload", "login_account", "login_address", "sign_up_address")
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

SnapshotLoader = Callable[[], Awaitable[PipelineSnapshot]]


class PipelineSnapshotCache:
    """Keeps the last snapshot for a few seconds: scrapes from several Prometheus servers, or a fast
    scrape interval, cost one pair of queries per period."""

    def __init__(
        self, ttl_seconds: float = PIPELINE_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic
    ):
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = asyncio.Lock()
        self._loaded_at: float | None = None
        self.snapshot: PipelineSnapshot | None = None
        self.ok = False

    async def refresh(self, load: SnapshotLoader) -> None:
        async with self._lock:
            now = self._clock()
            if self._loaded_at is not None and now - self._loaded_at < self._ttl:
                return
            self._loaded_at = now
            try:
                self.snapshot, self.ok = await load(), True
            except Exception:
                # Stale figures would hide the outage; the gauges disappear and ``_up`` says why.
                self.snapshot, self.ok = None, False


class PipelineCollector(Collector):
    """Jobs by kind and status and the outbox backlog, from the cached snapshot, at scrape time."""

    def __init__(self, cache: PipelineSnapshotCache) -> None:
        self._cache = cache

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            f"{PREFIX}_pipeline_statistics_up", "1 when the last read of the job and outbox figures worked"
        )
        up.add_metric([], 1.0 if self._cache.ok else 0.0)
        yield up
        snapshot = self._cache.snapshot
        if snapshot is None:
            return
        jobs = GaugeMetricFamily(
            f"{PREFIX}_jobs", "Analysis jobs by kind and status", labels=["kind", "status"]
        )
        for kind in ReferenceKind:
            for status in JobStatus:
                jobs.add_metric([kind.value, status.value], snapshot.job_count(kind, status))
        yield jobs
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_unsent",
            "Outbox rows not yet accepted by an analysis server",
            value=snapshot.outbox_unsent,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_oldest_unsent_age_seconds",
            "Age of the oldest unsent outbox row (0 when none is waiting)",
            value=snapshot.oldest_unsent_age_seconds,
        )


class ApiMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.request_duration = Histogram(
            f"{PREFIX}_http_request_duration_seconds",
            "Time until the response headers were sent, by route template",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.webhooks = Counter(
            f"{PREFIX}_webhooks",
            "Verified analysis webhooks by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.webhook_rejections = Counter(
            f"{PREFIX}_webhook_rejections",
            "Analysis webhooks refused, by reason (malformed headers, signature, payload)",
            ["reason"],
            registry=self.registry,
        )
        self.sse_connections = Gauge(
            f"{PREFIX}_sse_connections",
            "Server-Sent Events streams open on this instance",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.websocket_connections = Gauge(
            f"{PREFIX}_websocket_connections",
            "Live-feed WebSockets (/v1/notifications) open on this instance",
            registry=self.registry,
        )
        self.feed_closes = Counter(
            f"{PREFIX}_feed_closes",
            "Live-feed WebSockets closed by the server, by close code (4408: too slow; docs/live.md)",
            ["code"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            f"{PREFIX}_rate_limited", "Requests refused with 429, by limit", ["limit"], registry=self.registry
        )
        self.rate_limiter_errors = Counter(
            f"{PREFIX}_rate_limiter_errors",
            "Requests let through unchecked because Redis did not answer, by limit",
            ["limit"],
            registry=self.registry,
        )
        # Every series exists from the start at 0, so rate() and alerts see the first increase.
        for outcome in WebhookOutcome:
            self.webhooks.labels(outcome.value)
        for reason in WEBHOOK_REJECTION_REASONS:
            self.webhook_rejections.labels(reason)
        for limit in RATE_LIMITS:
            self.rate_limited.labels(limit)
            self.rate_limiter_errors.labels(limit)
        self._pipeline = PipelineSnapshotCache()
        self.registry.register(PipelineCollector(self._pipeline))

    def webhook_outcome(self, outcome: WebhookOutcome | str) -> None:
        self.webhooks.labels(WebhookOutcome(outcome).value).inc()

    def webhook_rejected(self, reason: str) -> None:
        if reason not in WEBHOOK_REJECTION_REASONS:
            raise ValueError(f"unknown webhook rejection reason: {reason}")
        self.webhook_rejections.labels(reason).inc()

    @contextmanager
    def sse_stream(self) -> Iterator[None]:
        """Wrap the body of an SSE generator: counted while it runs, however it ends."""
        self.sse_connections.inc()
        try:
            yield
        finally:
            self.sse_connections.dec()

    @contextmanager
    def websocket_connection(self) -> Iterator[None]:
        self.websocket_connections.inc()
        try:
            yield
        finally:
            self.websocket_connections.dec()

    def feed_closed(self, code: int) -> None:
        self.feed_closes.labels(str(code)).inc()

    async def exposition(self, load_pipeline: SnapshotLoader) -> bytes:
        await self._pipeline.refresh(load_pipeline)
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # `serve --workers N`: every process's figures, summed from the files they all write.
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            registry.register(PipelineCollector(self._pipeline))
            return generate_latest(registry)
        return generate_latest(self.registry)

    def instrument(self, app: ASGIApp) -> ASGIApp:
        """Wrap the app's whole ASGI handler, routing included, so unmatched paths are measured too."""
        histogram = self.request_duration

        async def measured(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            observed = False

            def observe(status: int) -> None:
                nonlocal observed
                observed = True
                method = scope.get("method", "GET")
                route = scope.get("path_template") or UNMATCHED_ROUTE
                histogram.labels(method if method in _KNOWN_METHODS else "OTHER", route, str(status)).observe(
                    time.perf_counter() - started
                )

            async def send_measured(message: Message) -> None:
                if message["type"] == "http.response.start" and not observed:
                    observe(message["status"])
                await send(message)

            try:
                await app(scope, receive, send_measured)
            finally:
                if not observed:
                    observe(500)

        return measured


def api_metrics(request: Request[Any, Any, Any]) -> ApiMetrics:
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


METRICS = {"metrics": Provide(api_metrics, sync_to_thread=False)}
Metrics = NamedDependency[ApiMetrics]


def _authorised(request: Request[Any, Any, Any], token: str) -> bool:
    presented = bearer_token(request.headers)
    return presented is not None and hmac.compare_digest(presented.encode(), token.encode())


class MetricsController(Controller):
    tags = ["operations"]

    @get("/metrics", include_in_schema=False)
    async def metrics(
        self,
        request: Request[Any, Any, Any],
        settings: Injected[Settings],
        pipeline_statistics: Injected[PipelineStatistics],
        metrics: Metrics,
    ) -> Response[bytes]:
        """Prometheus text exposition; with METRICS_TOKEN set, only for ``Authorization: Bearer <token>``."""
        token = settings.metrics_token
        if token is not None and not _authorised(request, token):
            raise ProblemError(
                401,
                "unauthenticated",
                "send 'Authorization: Bearer <METRICS_TOKEN>'",
                {"WWW-Authenticate": "Bearer"},
            )
        body = await metrics.exposition(pipeline_statistics.snapshot)
        return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)
