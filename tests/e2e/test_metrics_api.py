"""GET /metrics: request latency by route template, jobs and outbox from Postgres, the optional token."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import uuid4

import httpx
import pytest

from entrypoints.bootstrap import Container
from entrypoints.http.app import create_app
from tests.support.api_client import TEST_BASE_URL, SignUp
from tests.support.prometheus import Scrape
from tests.support.recordings import tone

LATENCY = "voicepractice_http_request_duration_seconds_count"
METRICS_TOKEN = "m" * 40


async def scrape(client: httpx.AsyncClient, **headers: str) -> Scrape:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    return Scrape(response.text)


async def test_metrics_are_served_as_prometheus_text(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")


async def test_request_latency_is_grouped_by_route_template(client: httpx.AsyncClient) -> None:
    for _ in range(2):
        await client.get(f"/v1/actors/{uuid4()}")
    metrics = await scrape(client)
    assert metrics.value(LATENCY, method="GET", route="/v1/actors/{actor_id}", status="404") == 2


async def test_concrete_paths_never_become_route_labels(client: httpx.AsyncClient) -> None:
    actor_id = uuid4()
    await client.get(f"/v1/actors/{actor_id}")
    routes = (await scrape(client)).label_values(LATENCY, "route")
    assert not any(str(actor_id) in route for route in routes)


async def test_unknown_paths_share_one_route_label(client: httpx.AsyncClient) -> None:
    await client.get("/no/such/page")
    await client.get("/another/unknown/path")
    metrics = await scrape(client)
    assert metrics.value(LATENCY, method="GET", route="unmatched", status="404") == 2


async def test_jobs_are_counted_by_kind_and_status(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any]
) -> None:
    me = await sign_up()
    uploaded = await client.post(
        f"/v1/tokens/{reference_token['id']}/upload-audio",
        files={"file": ("take.wav", tone(1.0))},
        headers=me,
    )
    assert uploaded.status_code == 202, uploaded.text
    metrics = await scrape(client)
    assert metrics.value("voicepractice_jobs", kind="token", status="queued") == 1


async def test_kind_and_status_pairs_without_jobs_are_exported_as_zero(client: httpx.AsyncClient) -> None:
    metrics = await scrape(client)
    assert metrics.value("voicepractice_jobs", kind="script", status="completed") == 0


async def test_the_outbox_backlog_counts_rows_not_yet_relayed(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any]
) -> None:
    me = await sign_up()
    await client.post(
        f"/v1/tokens/{reference_token['id']}/upload-audio",
        files={"file": ("take.wav", tone(1.0))},
        headers=me,
    )
    metrics = await scrape(client)
    assert metrics.value("voicepractice_outbox_unsent") == 1


async def test_an_empty_outbox_has_no_age(client: httpx.AsyncClient) -> None:
    metrics = await scrape(client)
    assert metrics.value("voicepractice_outbox_oldest_unsent_age_seconds") == 0


async def test_the_pipeline_figures_report_they_were_read(client: httpx.AsyncClient) -> None:
    metrics = await scrape(client)
    assert metrics.value("voicepractice_pipeline_statistics_up") == 1


async def test_webhook_and_rate_limit_series_exist_before_anything_happened(
    client: httpx.AsyncClient,
) -> None:
    metrics = await scrape(client)
    assert metrics.value("voicepractice_webhook_rejections_total", reason="signature") == 0


@pytest.fixture
async def guarded_client(container: Container) -> Any:
    guarded = replace(container, settings=replace(container.settings, metrics_token=METRICS_TOKEN))
    transport = httpx.ASGITransport(app=create_app(container=guarded))
    async with httpx.AsyncClient(transport=transport, base_url=TEST_BASE_URL) as guarded_client:
        yield guarded_client


async def test_metrics_need_the_bearer_token_when_one_is_configured(
    guarded_client: httpx.AsyncClient,
) -> None:
    response = await guarded_client.get("/metrics")
    assert (response.status_code, response.json()["type"]) == (401, "/problems/unauthenticated")


async def test_metrics_refuse_a_wrong_token(guarded_client: httpx.AsyncClient) -> None:
    response = await guarded_client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert response.status_code == 401


async def test_metrics_answer_with_the_configured_token(guarded_client: httpx.AsyncClient) -> None:
    response = await guarded_client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
