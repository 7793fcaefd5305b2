"""The worker's relay counters and the small HTTP server that exports them."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from uuid import uuid4

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from application.analysis.relay import RelayOutcome
from entrypoints.worker_metrics import WorkerMetrics, WorkerMetricsServer
from tests.support.network import accepts_connections, outward_address
from tests.support.prometheus import Scrape


def outcomes(*names: str) -> list[RelayOutcome]:
    return [RelayOutcome(uuid4(), name) for name in names]


def scrape(metrics: WorkerMetrics) -> Scrape:
    return Scrape(generate_latest(metrics.registry).decode())


def test_every_request_sent_counts_as_an_attempt() -> None:
    metrics = WorkerMetrics(CollectorRegistry())
    metrics.record_relay(outcomes("sent", "retry", "failed", "skipped", "not_claimed"), source="sweep")
    assert scrape(metrics).value("voicepractice_relay_attempts_total", source="sweep") == 3


def test_a_failure_with_retries_left_is_not_final() -> None:
    metrics = WorkerMetrics(CollectorRegistry())
    metrics.record_relay(outcomes("retry"), source="fast_path")
    assert scrape(metrics).value("voicepractice_relay_failures_total", source="fast_path", final="false") == 1


def test_a_failure_that_failed_the_job_is_final() -> None:
    metrics = WorkerMetrics(CollectorRegistry())
    metrics.record_relay(outcomes("failed"), source="fast_path")
    assert scrape(metrics).value("voicepractice_relay_failures_total", source="fast_path", final="true") == 1


def test_a_row_settled_without_a_request_counts_as_skipped() -> None:
    metrics = WorkerMetrics(CollectorRegistry())
    metrics.record_relay(outcomes("skipped"), source="sweep")
    assert scrape(metrics).value("voicepractice_relay_skipped_total", source="sweep") == 1


def test_an_unknown_source_is_refused() -> None:
    with pytest.raises(ValueError, match="cron"):
        WorkerMetrics(CollectorRegistry()).record_relay([], source="cron")


def test_the_default_registry_carries_process_metrics() -> None:
    assert scrape(WorkerMetrics()).value("process_cpu_seconds_total") is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served() -> Iterator[tuple[WorkerMetrics, WorkerMetricsServer]]:
    metrics = WorkerMetrics(CollectorRegistry())
    server = WorkerMetricsServer(metrics.registry, _free_port(), host="127.0.0.1")
    server.start()
    yield metrics, server
    server.stop()


def test_the_server_exports_the_counters_over_http(served: tuple[WorkerMetrics, WorkerMetricsServer]) -> None:
    metrics, server = served
    metrics.record_relay(outcomes("sent"), source="fast_path")
    text = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5).text
    assert Scrape(text).value("voicepractice_relay_attempts_total", source="fast_path") == 1


def test_a_stopped_server_frees_its_port(served: tuple[WorkerMetrics, WorkerMetricsServer]) -> None:
    _, server = served
    port = server.port
    server.stop()
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port or 0)) != 0


def test_the_server_listens_on_loopback_only_by_default() -> None:
    outward = outward_address()
    if outward is None:
        pytest.skip("this machine has no address but loopback")
    port = _free_port()
    server = WorkerMetricsServer(CollectorRegistry(), port)
    server.start()
    try:
        assert (accepts_connections("127.0.0.1", port), accepts_connections(outward, port)) == (True, False)
    finally:
        server.stop()


def test_port_zero_turns_the_server_off() -> None:
    server = WorkerMetricsServer(CollectorRegistry(), 0)
    server.start()
    assert server.port is None


def test_a_port_in_use_leaves_the_worker_without_metrics_instead_of_failing() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = WorkerMetricsServer(CollectorRegistry(), taken.getsockname()[1], host="127.0.0.1")
        server.start()
    assert server.port is None
