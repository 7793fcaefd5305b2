"""`serve --workers 2` (as the Dockerfile and fly.toml run the API): /metrics of either process counts
the requests of both, so a scrape that reaches one of them still sees all of the instance's traffic."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.full_system import free_port
from tests.support.processes import api_environment, api_process
from tests.support.prometheus import Scrape

LATENCY = "voicepractice_http_request_duration_seconds_count"
REQUESTS = 40
SCRAPES = 6


@pytest.fixture
def two_processes(clean_database: str, redis_url: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    environment = api_environment(clean_database, redis_url, tmp_path, WEB_CONCURRENCY="2")
    process = api_process(environment, tmp_path / "logs", port)
    process.start(timeout=300.0)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop(timeout=30.0)


def _health_counts(base_url: str) -> list[float | None]:
    counts = []
    for _ in range(SCRAPES):
        # A new connection each time, so the scrapes reach either process.
        with httpx.Client(base_url=base_url, timeout=10.0) as client:
            scrape = Scrape(client.get("/metrics").text)
        counts.append(scrape.value(LATENCY, method="GET", route="/health", status="200"))
    return counts


def test_every_scrape_of_either_process_counts_the_requests_of_both(two_processes: str) -> None:
    before = _health_counts(two_processes)
    for _ in range(REQUESTS):
        with httpx.Client(base_url=two_processes, timeout=10.0) as client:
            assert client.get("/health").status_code == 200
    after = _health_counts(two_processes)

    assert len(set(before)) == 1, before
    [counted_before] = set(before)
    assert counted_before is not None
    assert after == [counted_before + REQUESTS] * SCRAPES
