"""The analysis path riding out outages, under the whole system with S3 storage (moto). The worker reaches
the analysis server, and the analysis server storage (presigned URLs are signed for it), through proxies
the test cuts (every connection reset): the analysis server unreachable (the job's stream shows
`retrying` events, then completes once it is reachable), storage failing exactly while the analysis
server downloads (retried with backoff: the job completes), and storage staying down (the job fails as
`analysis_failed:download_failed` once the server's retry budget is spent)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from adapters.persistence import migrations
from tests.support.full_system import TERMINAL_EVENTS, SseEvent, System, free_port, sse_events
from tests.support.redis_server import private_redis
from tests.support.tcp_proxy import TcpProxy, tcp_proxy

pytestmark = pytest.mark.slow

LINE = "Keep your eyes on the road."
BUCKET = "recordings"
DOWNLOAD_RETRY_SECONDS = 6.0


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing"
    ).create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture(scope="module")
def storage_proxy(moto_endpoint: str) -> Iterator[TcpProxy]:
    """What the analysis server downloads through: presigned URLs are signed for it."""
    with tcp_proxy(int(moto_endpoint.rsplit(":", 1)[1])) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def analysis_proxy() -> Iterator[TcpProxy]:
    """What the worker dispatches through; it forwards to the system's analysis server."""
    port = free_port()
    with tcp_proxy(port) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def system(
    empty_database_factory: Callable[[], str],
    moto_endpoint: str,
    storage_proxy: TcpProxy,
    analysis_proxy: TcpProxy,
    tmp_path_factory: Any,
) -> Iterator[System]:
    database_url = empty_database_factory()
    migrations.upgrade(database_url)
    workdir: Path = tmp_path_factory.mktemp("analysis-outages")
    with private_redis(workdir) as redis_server:
        running = System.configure(
            database_url,
            redis_server.url,
            workdir,
            ANALYSIS_TOKEN_SERVER_URL=analysis_proxy.url,
            ANALYSIS_SCRIPT_SERVER_URL=analysis_proxy.url,
            STORAGE_BACKEND="s3",
            S3_BUCKET=BUCKET,
            S3_ENDPOINT_URL=moto_endpoint,
            S3_PUBLIC_ENDPOINT_URL=storage_proxy.url,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            ANALYSIS_SERVER_CONCURRENCY="1",
            ANALYSIS_SERVER_DOWNLOAD_RETRY_SECONDS=str(DOWNLOAD_RETRY_SECONDS),
        )
        running.analysis_port = analysis_proxy.target_port
        try:
            running.start()
            yield running
        finally:
            running.stop()


@pytest.fixture(scope="module")
def practice(system: System) -> tuple[str, dict[str, str], bytes]:
    return system.practice_token(LINE, "analysis-outages@example.com")


def _stream(system: System, user: dict[str, str], job_id: str) -> Iterator[SseEvent]:
    with httpx.stream(
        "GET", f"{system.api_url}/v1/jobs/{job_id}/events", headers=user, timeout=90.0
    ) as answer:
        assert answer.status_code == 200, answer.read().decode(errors="replace")
        yield from sse_events(answer.iter_lines())


def test_the_stream_shows_retrying_while_the_analysis_server_is_unreachable_then_completes(
    system: System, practice: tuple[str, dict[str, str], bytes], analysis_proxy: TcpProxy
) -> None:
    token_id, user, audio = practice
    analysis_proxy.cut()
    try:
        job_id = system.upload(user, "tokens", token_id, audio, "take.wav")
        events: list[SseEvent] = []
        for event in _stream(system, user, job_id):
            events.append(event)
            if event.event == "retrying" and event.data["attempt"] == 2:
                analysis_proxy.restore()
            if event.event in TERMINAL_EVENTS:
                break
    finally:
        analysis_proxy.restore()

    types = [event.event for event in events]
    assert types[-1] == "completed", f"{types}\n{system.logs()}"
    retrying = [event for event in events if event.event == "retrying"]
    assert len(retrying) >= 2, types
    assert [event.data["attempt"] for event in retrying] == list(range(1, len(retrying) + 1))
    for event in retrying:
        assert event.data["status"] == "queued"
        assert event.data["reason"] == "unreachable"
        assert event.data["retry_in_seconds"] > 0
        assert datetime.fromisoformat(event.data["next_attempt_at"]).tzinfo is not None
        assert str(analysis_proxy.port) not in str(event.data), "no internal addresses on a user's stream"
    assert types.index("retrying") < types.index("dispatched")
    assert [event.id for event in events] == [str(n) for n in range(1, len(events) + 1)], "no gap"


def test_storage_failing_while_the_analysis_server_downloads_only_delays_the_job(
    system: System, practice: tuple[str, dict[str, str], bytes], storage_proxy: TcpProxy
) -> None:
    token_id, user, audio = practice
    refused_before = storage_proxy.refused
    storage_proxy.cut()
    try:
        # The API and worker reach storage directly: the upload is stored and the job dispatched, and
        # the analysis server's download is refused until storage comes back.
        job_id = system.upload(user, "tokens", token_id, audio, "take.wav")
        assert storage_proxy.wait_for_refusals(refused_before + 2, timeout=60.0), system.logs()
    finally:
        storage_proxy.restore()

    events = system.follow(user, job_id, timeout=90.0)

    assert events[-1].event == "completed", f"{[event.event for event in events]}\n{system.logs()}"


def test_storage_staying_down_fails_the_job_as_download_failed_after_the_retry_budget(
    system: System, practice: tuple[str, dict[str, str], bytes], storage_proxy: TcpProxy
) -> None:
    token_id, user, audio = practice
    refused_before = storage_proxy.refused
    storage_proxy.cut()
    try:
        job_id = system.upload(user, "tokens", token_id, audio, "take.wav")
        events = system.follow(user, job_id, timeout=90.0)
    finally:
        storage_proxy.restore()

    assert events[-1].event == "failed", f"{[event.event for event in events]}\n{system.logs()}"
    assert events[-1].data["code"] == "analysis_failed:download_failed"
    assert "could not be fetched" in events[-1].data["reason"]
    assert storage_proxy.refused - refused_before > 3, "the download was tried again with backoff"
    assert system.job(user, job_id)["status"] == "failed"
