"""The analysis server's HTTP surface: acceptance, idempotency, back-pressure, auth and validation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import pytest
from litestar.testing import AsyncTestClient

from adapters.reference_analysis.destinations import DestinationGuard, DestinationPolicy
from application.reference_analysis.intake import AnalysisIntake, IntakeSettings
from application.reference_analysis.orders import AnalysisOrder
from application.reference_analysis.reporting import Reporter
from entrypoints.analysis_server.app import create_app
from entrypoints.analysis_server.composition import AnalysisServer
from entrypoints.analysis_server.settings import AnalysisServerSettings
from tests.unit.application.reference_analysis.fakes import FixedClock, RecordingSender

TOKEN = "t" * 40
# Where the fake resolver puts every name: a public address, or one the policy must refuse.
ADDRESSES = {"storage.test": "93.184.216.34", "api.test": "93.184.216.35", "intranet.test": "10.1.2.3"}


async def _resolve(host: str, port: int) -> list[str]:
    return [ADDRESSES[host]]


def _body(**overrides: Any) -> dict[str, Any]:
    return {
        "job_id": str(uuid4()),
        "kind": "token",
        "recording": {"url": "http://storage.test/rec.webm", "content_type": "audio/webm"},
        "reference": {"url": "http://storage.test/ref.wav", "content_type": "audio/wav"},
        "callback_url": "http://api.test/webhooks/analysis",
        "deadline": "2030-01-01T00:00:00+00:00",
        "text": "Keep your eyes on the road.",
        "words": [{"index": 0, "text": "Keep", "start": 0.0, "end": 0.31, "reference_features": None}],
        "feature_config_version": None,
        **overrides,
    }


class Held:
    """Holds every order until the test ends, so the queue fills up."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.orders: list[AnalysisOrder] = []

    async def __call__(self, order: AnalysisOrder) -> None:
        self.orders.append(order)
        await self.release.wait()


def _server(
    held: Held, auth_token: str | None = None, queue_size: int = 4, *, allow_unauthenticated: bool = True
) -> AnalysisServer:
    settings = AnalysisServerSettings(
        concurrency=1,
        queue_size=queue_size,
        analysis_server_auth_token=auth_token,
        allow_unauthenticated=allow_unauthenticated,
        log_format="json",
        shutdown_grace_seconds=0.1,
    )
    intake = AnalysisIntake(held, IntakeSettings(concurrency=1, queue_size=queue_size))
    destinations = DestinationGuard(
        DestinationPolicy(("storage.test", "api.test", "intranet.test")), _resolve
    )
    return AnalysisServer(settings, intake, Reporter(RecordingSender(), FixedClock()), None, (), destinations)


@pytest.fixture
async def held() -> AsyncIterator[Held]:
    processor = Held()
    yield processor
    processor.release.set()


async def test_a_request_is_accepted_with_202(held: Held) -> None:
    async with AsyncTestClient(create_app(server=_server(held))) as client:
        answer = await client.post("/v1/analyses", json=_body())

    assert (answer.status_code, answer.json()["status"]) == (202, "accepted")


async def test_the_same_job_id_again_is_answered_202_duplicate(held: Held) -> None:
    body = _body()
    async with AsyncTestClient(create_app(server=_server(held))) as client:
        await client.post("/v1/analyses", json=body)
        again = await client.post("/v1/analyses", json=body)

    assert (again.status_code, again.json()["status"]) == (202, "duplicate")


async def test_a_full_queue_answers_429_with_retry_after(held: Held) -> None:
    async with AsyncTestClient(create_app(server=_server(held, queue_size=1))) as client:
        await client.post("/v1/analyses", json=_body())
        for _ in range(50):
            if held.orders:
                break
            await asyncio.sleep(0.01)
        await client.post("/v1/analyses", json=_body())
        refused = await client.post("/v1/analyses", json=_body())

    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1


async def test_a_body_that_is_not_json_is_400_problem_details(held: Held) -> None:
    async with AsyncTestClient(create_app(server=_server(held))) as client:
        answer = await client.post(
            "/v1/analyses", content=b"{not json", headers={"content-type": "application/json"}
        )

    assert (answer.status_code, answer.headers["content-type"]) == (400, "application/problem+json")


@pytest.mark.parametrize(
    "overrides",
    [
        {"job_id": "not-a-uuid"},
        {"kind": "poem"},
        {"recording": {"content_type": "audio/webm"}},
        {"words": [{"index": 0, "text": "Keep", "start": -1.0, "end": 0.3}]},
    ],
    ids=["job id", "kind", "recording url", "negative start"],
)
async def test_a_body_against_the_schema_is_422_problem_details(
    held: Held, overrides: dict[str, Any]
) -> None:
    async with AsyncTestClient(create_app(server=_server(held))) as client:
        answer = await client.post("/v1/analyses", json=_body(**overrides))

    assert (answer.status_code, answer.headers["content-type"]) == (422, "application/problem+json")


async def test_a_body_breaking_a_rule_is_422_naming_the_field(held: Held) -> None:
    async with AsyncTestClient(create_app(server=_server(held))) as client:
        answer = await client.post("/v1/analyses", json=_body(callback_url="file:///etc/passwd"))

    assert (answer.status_code, answer.json()["errors"][0]["field"]) == (422, "callback_url")


async def test_an_idempotency_key_other_than_the_job_id_is_422(held: Held) -> None:
    async with AsyncTestClient(create_app(server=_server(held))) as client:
        answer = await client.post("/v1/analyses", json=_body(), headers={"Idempotency-Key": str(uuid4())})

    assert answer.status_code == 422


async def test_an_idempotency_key_equal_to_the_job_id_is_accepted(held: Held) -> None:
    body = _body()
    async with AsyncTestClient(create_app(server=_server(held))) as client:
        answer = await client.post("/v1/analyses", json=body, headers={"Idempotency-Key": body["job_id"]})

    assert answer.status_code == 202


async def test_without_the_bearer_token_a_request_is_401_when_one_is_configured(held: Held) -> None:
    async with AsyncTestClient(create_app(server=_server(held, auth_token=TOKEN))) as client:
        answer = await client.post("/v1/analyses", json=_body(), headers={"Authorization": "Bearer wrong"})

    assert (answer.status_code, answer.headers["www-authenticate"]) == (401, "Bearer")


async def test_with_the_bearer_token_a_request_is_accepted(held: Held) -> None:
    async with AsyncTestClient(create_app(server=_server(held, auth_token=TOKEN))) as client:
        answer = await client.post("/v1/analyses", json=_body(), headers={"Authorization": f"Bearer {TOKEN}"})

    assert answer.status_code == 202


async def test_health_reports_the_load(held: Held) -> None:
    async with AsyncTestClient(create_app(server=_server(held))) as client:
        await client.post("/v1/analyses", json=_body())
        await client.post("/v1/analyses", json=_body())
        for _ in range(50):
            if held.orders:
                break
            await asyncio.sleep(0.01)
        health = await client.get("/health")

    assert json.loads(health.content) == {
        "status": "ok",
        "running": 1,
        "waiting": 1,
        "capacity": 5,
        "webhooks_pending": 0,
    }


async def test_without_a_token_or_the_development_switch_every_request_is_401(held: Held) -> None:
    async with AsyncTestClient(create_app(server=_server(held, allow_unauthenticated=False))) as client:
        answer = await client.post("/v1/analyses", json=_body())

    assert answer.status_code == 401


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("recording.url", _body(recording={"url": "http://elsewhere.test/rec.webm", "content_type": ""})),
        (
            "reference.url",
            _body(reference={"url": "http://169.254.169.254/latest/meta-data", "content_type": ""}),
        ),
        ("callback_url", _body(callback_url="http://intranet.test/hook")),
        ("recording.url", _body(recording={"url": "http://[::ffff:127.0.0.1]/rec.webm", "content_type": ""})),
    ],
)
async def test_a_url_outside_the_allowed_hosts_or_at_a_private_address_is_422(
    held: Held, field: str, body: dict[str, Any]
) -> None:
    async with AsyncTestClient(create_app(server=_server(held))) as client:
        answer = await client.post("/v1/analyses", json=body)

    assert (answer.status_code, answer.json()["type"].rsplit("/", 1)[-1]) == (422, "destination-not-allowed")
    assert answer.json()["detail"].startswith(field)
    assert held.orders == []
