"""The API's metrics object: the counters the webhook and SSE routes call, and the pipeline cache."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client import generate_latest

from application.analysis.webhooks import WebhookOutcome
from application.operations import PipelineSnapshot
from domain.analysis.jobs import JobStatus
from domain.catalog import ReferenceKind
from entrypoints.http.metrics import ApiMetrics, PipelineSnapshotCache
from tests.support.prometheus import Scrape

SNAPSHOT = PipelineSnapshot(
    taken_at=datetime(2025, 1, 1, tzinfo=UTC),
    jobs={(ReferenceKind.TOKEN, JobStatus.QUEUED): 3},
    outbox_unsent=2,
    oldest_unsent_age_seconds=12.5,
)


def scrape(metrics: ApiMetrics) -> Scrape:
    return Scrape(generate_latest(metrics.registry).decode())


async def load_snapshot() -> PipelineSnapshot:
    return SNAPSHOT


async def fail_to_load() -> PipelineSnapshot:
    raise ConnectionError("postgres is down")


def test_a_webhook_outcome_is_counted_under_its_value() -> None:
    metrics = ApiMetrics()
    metrics.webhook_outcome(WebhookOutcome.DUPLICATE)
    assert scrape(metrics).value("voicepractice_webhooks_total", outcome="duplicate") == 1


def test_a_webhook_outcome_may_be_given_as_its_string() -> None:
    metrics = ApiMetrics()
    metrics.webhook_outcome("unknown_job")
    assert scrape(metrics).value("voicepractice_webhooks_total", outcome="unknown_job") == 1


def test_an_unknown_webhook_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="accepted"):
        ApiMetrics().webhook_outcome("accepted")


def test_a_webhook_rejection_is_counted_by_reason() -> None:
    metrics = ApiMetrics()
    metrics.webhook_rejected("signature")
    assert scrape(metrics).value("voicepractice_webhook_rejections_total", reason="signature") == 1


def test_an_unknown_rejection_reason_is_refused() -> None:
    with pytest.raises(ValueError, match="timeout"):
        ApiMetrics().webhook_rejected("timeout")


def test_an_sse_stream_is_counted_while_it_is_open() -> None:
    metrics = ApiMetrics()
    with metrics.sse_stream():
        assert scrape(metrics).value("voicepractice_sse_connections") == 1


def test_an_sse_stream_that_fails_is_no_longer_counted() -> None:
    metrics = ApiMetrics()
    with pytest.raises(RuntimeError), metrics.sse_stream():
        raise RuntimeError("client went away")
    assert scrape(metrics).value("voicepractice_sse_connections") == 0


async def test_the_exposition_carries_the_pipeline_snapshot() -> None:
    metrics = ApiMetrics()
    text = (await metrics.exposition(load_snapshot)).decode()
    assert Scrape(text).value("voicepractice_outbox_oldest_unsent_age_seconds") == 12.5


async def test_a_failed_pipeline_read_drops_the_figures() -> None:
    metrics = ApiMetrics()
    text = (await metrics.exposition(fail_to_load)).decode()
    assert Scrape(text).value("voicepractice_outbox_unsent") is None


async def test_a_failed_pipeline_read_reports_the_figures_down() -> None:
    metrics = ApiMetrics()
    text = (await metrics.exposition(fail_to_load)).decode()
    assert Scrape(text).value("voicepractice_pipeline_statistics_up") == 0


class Loads:
    def __init__(self) -> None:
        self.count = 0

    async def __call__(self) -> PipelineSnapshot:
        self.count += 1
        return SNAPSHOT


async def test_the_snapshot_is_read_once_within_its_time_to_live() -> None:
    now = [100.0]
    cache, loads = PipelineSnapshotCache(ttl_seconds=5, clock=lambda: now[0]), Loads()
    await cache.refresh(loads)
    now[0] += 4.9
    await cache.refresh(loads)
    assert loads.count == 1


async def test_the_snapshot_is_read_again_once_it_is_stale() -> None:
    now = [100.0]
    cache, loads = PipelineSnapshotCache(ttl_seconds=5, clock=lambda: now[0]), Loads()
    await cache.refresh(loads)
    now[0] += 5
    await cache.refresh(loads)
    assert loads.count == 2


async def test_a_request_that_fails_before_answering_is_measured_as_500() -> None:
    metrics = ApiMetrics()

    async def broken(scope: object, receive: object, send: object) -> None:
        raise RuntimeError("boom")

    app = metrics.instrument(broken)
    with pytest.raises(RuntimeError):
        await app({"type": "http", "method": "GET", "path": "/x"}, None, None)  # type: ignore[arg-type]
    count = "voicepractice_http_request_duration_seconds_count"
    assert scrape(metrics).value(count, method="GET", route="unmatched", status="500") == 1


async def test_unusual_methods_share_one_label() -> None:
    metrics = ApiMetrics()

    async def answer(scope: object, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 405, "headers": []})  # type: ignore[operator]

    async def discard(message: object) -> None:
        return None

    await metrics.instrument(answer)({"type": "http", "method": "BREW", "path": "/"}, None, discard)  # type: ignore[arg-type]
    count = "voicepractice_http_request_duration_seconds_count"
    assert scrape(metrics).value(count, method="OTHER", route="unmatched", status="405") == 1
