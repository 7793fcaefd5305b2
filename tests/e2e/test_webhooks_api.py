"""Analysis webhooks over HTTP: Standard Webhooks signatures (signed by the reference library), idempotency."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook
from uuid_utils.compat import uuid7

from domain.analysis.jobs import Job, Recording
from domain.catalog import ReferenceKind
from entrypoints.bootstrap import Container, build_container
from entrypoints.http.app import create_app
from entrypoints.settings import DEV_WEBHOOK_SECRET, Settings
from tests.support.api_client import SignUp
from tests.support.recordings import tone

RESULT = {
    "overall": 72.5,
    "scores": {
        "pronunciation": 80.0,
        "intonation": 61.0,
        "rhythm": 70.0,
        "energy": 75.0,
        "completeness": 100.0,
    },
    "words": [
        {"index": 0, "text": "hello", "start": 0.1, "end": 0.5, "score": 90.0, "status": "ok"},
        {"index": 1, "text": "world", "start": None, "end": None, "score": 0.0, "status": "omitted"},
    ],
    "metrics": {"duration_ratio": 1.1},
    "contours": {"reference": [0.0, 1.0], "user": [0.1, 0.9]},
}


def signed(
    event: str, data: dict[str, Any], secret: str = DEV_WEBHOOK_SECRET, **overrides: Any
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {"type": f"analysis.{event}", "timestamp": datetime.now(UTC).isoformat(), "data": data}
    ).encode()
    msg_id = overrides.get("msg_id", f"msg_{uuid.uuid4().hex}")
    timestamp = overrides.get("timestamp", datetime.now(UTC))
    signature = Webhook(secret).sign(msg_id, timestamp, body.decode())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
    }
    return body, headers


async def _job(
    client: httpx.AsyncClient, me: dict[str, str], target: dict[str, Any], kind: str = "tokens"
) -> str:
    response = await client.post(
        f"/v1/{kind}/{target['id']}/upload-audio", files={"file": ("a.wav", tone(1.0))}, headers=me
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def _deliver(client: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await client.post(
        "/webhooks/analysis", content=body, headers={**headers, "Content-Type": "application/json"}
    )


async def _inbox_size(container: Container) -> int:
    async with container.engine.connect() as connection:
        return int(await connection.scalar(text("SELECT count(*) FROM webhook_inbox")) or 0)


async def test_started_progress_completed_leads_to_a_stored_result(
    client: httpx.AsyncClient, sign_up: SignUp, reference_script: dict[str, Any]
) -> None:
    me = await sign_up()
    job_id = await _job(client, me, reference_script, "scripts")
    for event, data in (
        ("started", {"job_id": job_id}),
        ("progress", {"job_id": job_id, "percent": 40, "stage": "aligning"}),
        ("completed", {"job_id": job_id, "result": RESULT}),
    ):
        response = await _deliver(client, *signed(event, data))
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "applied"}
    job = (await client.get(f"/v1/jobs/{job_id}", headers=me)).json()
    assert (job["status"], job["progress"]) == ("completed", 100)
    assert job["result"]["overall"] == 72.5
    assert [(w["text"], w["status"]) for w in job["result"]["words"]] == [
        ("hello", "ok"),
        ("world", "omitted"),
    ]
    assert job["result"]["contours"]["reference"] == [0.0, 1.0]
    stats = (await client.get("/v1/mypage", headers=me)).json()["history"]["stats"]
    assert (stats["count"], stats["completed"], stats["average_overall"], stats["best_overall"]) == (
        1,
        1,
        72.5,
        72.5,
    )


async def test_failed_event_fails_the_job_with_a_readable_reason(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any]
) -> None:
    me = await sign_up()
    job_id = await _job(client, me, reference_token)
    data = {"job_id": job_id, "code": "no_speech", "message": "No speech was found in the recording."}
    assert (await _deliver(client, *signed("failed", data))).status_code == 200
    job = (await client.get(f"/v1/jobs/{job_id}", headers=me)).json()
    assert job["status"] == "failed"
    assert job["failure"]["reason"] == "No speech was found in the recording."


async def test_a_replayed_delivery_is_acknowledged_and_changes_nothing(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any], container: Container
) -> None:
    me = await sign_up()
    job_id = await _job(client, me, reference_token)
    delivery = signed("progress", {"job_id": job_id, "percent": 30, "stage": "features"})
    assert (await _deliver(client, *delivery)).json() == {"status": "applied"}
    replay = await _deliver(client, *delivery)
    assert replay.status_code == 200
    assert replay.json() == {"status": "duplicate"}
    assert await _inbox_size(container) == 1


async def test_terminal_states_never_change(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any]
) -> None:
    me = await sign_up()
    job_id = await _job(client, me, reference_token)
    await _deliver(client, *signed("completed", {"job_id": job_id, "result": RESULT}))
    late_progress = await _deliver(
        client, *signed("progress", {"job_id": job_id, "percent": 50, "stage": "scoring"})
    )
    second_completion = await _deliver(
        client, *signed("completed", {"job_id": job_id, "result": {**RESULT, "overall": 1.0}})
    )
    late_failure = await _deliver(client, *signed("failed", {"job_id": job_id, "code": "x"}))
    assert [r.json()["status"] for r in (late_progress, second_completion, late_failure)] == ["ignored"] * 3
    job = (await client.get(f"/v1/jobs/{job_id}", headers=me)).json()
    assert (job["status"], job["result"]["overall"]) == ("completed", 72.5)


@pytest.mark.parametrize(
    ("tamper", "status"),
    [
        (lambda body, headers: (body.replace(b"40", b"41"), headers), 401),
        (lambda body, headers: (body, {**headers, "webhook-signature": "v1,AAAA"}), 401),
        (lambda body, headers: (body, {k: v for k, v in headers.items() if k != "webhook-signature"}), 400),
        (lambda body, headers: (body, {k: v for k, v in headers.items() if k != "webhook-id"}), 400),
        (lambda body, headers: (body, {**headers, "webhook-timestamp": "yesterday"}), 400),
        (lambda body, headers: (body, {**headers, "webhook-signature": "garbage"}), 400),
        (lambda body, headers: (body + b"\xff", headers), 400),
    ],
    ids=[
        "tampered-body",
        "wrong-signature",
        "unsigned",
        "no-id",
        "bad-timestamp",
        "malformed-signature",
        "not-utf8",
    ],
)
async def test_bad_deliveries_are_rejected_and_write_nothing(
    client: httpx.AsyncClient,
    sign_up: SignUp,
    reference_token: dict[str, Any],
    container: Container,
    tamper: Any,
    status: int,
) -> None:
    me = await sign_up()
    job_id = await _job(client, me, reference_token)
    body, headers = tamper(*signed("progress", {"job_id": job_id, "percent": 40, "stage": "features"}))
    response = await _deliver(client, body, headers)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await _inbox_size(container) == 0
    assert (await client.get(f"/v1/jobs/{job_id}", headers=me)).json()["progress"] == 0


@pytest.mark.parametrize("skew_seconds", [-400, 400])
async def test_stale_or_future_timestamps_are_401(
    client: httpx.AsyncClient,
    sign_up: SignUp,
    reference_token: dict[str, Any],
    container: Container,
    skew_seconds: int,
) -> None:
    me = await sign_up()
    job_id = await _job(client, me, reference_token)
    when = datetime.fromtimestamp(time.time() + skew_seconds, tz=UTC)
    response = await _deliver(client, *signed("started", {"job_id": job_id}, timestamp=when))
    assert response.status_code == 401
    assert await _inbox_size(container) == 0


async def test_a_signed_but_invalid_payload_is_400(client: httpx.AsyncClient) -> None:
    for event, data in (
        ("progress", {"job_id": str(uuid.uuid4()), "percent": 140, "stage": "x"}),
        ("exploded", {"job_id": str(uuid.uuid4())}),
        ("completed", {"job_id": "not-a-uuid", "result": RESULT}),
        ("completed", {"job_id": str(uuid.uuid4()), "result": {**RESULT, "overall": 101}}),
    ):
        response = await _deliver(client, *signed(event, data))
        assert response.status_code == 400, (event, data, response.text)


async def test_a_hundred_concurrent_deliveries_of_one_webhook_apply_once(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any], container: Container
) -> None:
    me = await sign_up()
    job_id = await _job(client, me, reference_token)
    delivery = signed("progress", {"job_id": job_id, "percent": 55, "stage": "aligning"})
    responses = await asyncio.gather(*(_deliver(client, *delivery) for _ in range(100)))
    assert all(r.status_code == 200 for r in responses)
    outcomes = sorted(r.json()["status"] for r in responses)
    assert outcomes.count("applied") == 1
    assert outcomes.count("duplicate") == 99
    async with container.engine.connect() as connection:
        events = await connection.scalar(
            text("SELECT count(*) FROM job_events WHERE job_id = :id AND type = 'progress'"), {"id": job_id}
        )
    assert events == 1


async def test_any_of_several_configured_secrets_verifies_for_rotation(
    settings: Settings, sign_up: SignUp, reference_token: dict[str, Any], client: httpx.AsyncClient
) -> None:
    new_secret = "whsec_" + "bmV3LXNlY3JldC1mb3Itcm90YXRpb24tdGVzdHMtMTIzNDU="
    rotated = await build_container(
        replace(settings, analysis_webhook_secrets=(new_secret, DEV_WEBHOOK_SECRET))
    )
    try:
        me = await sign_up()
        job_id = await _job(client, me, reference_token)
        transport = httpx.ASGITransport(app=create_app(container=rotated))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as rotated_client:
            old = await _deliver(rotated_client, *signed("started", {"job_id": job_id}))
            new = await _deliver(
                rotated_client,
                *signed(
                    "progress", {"job_id": job_id, "percent": 10, "stage": "decoding"}, secret=new_secret
                ),
            )
        assert (old.status_code, new.status_code) == (200, 200)
    finally:
        await rotated.close()


async def test_a_webhook_for_an_unknown_job_is_acknowledged(client: httpx.AsyncClient) -> None:
    response = await _deliver(client, *signed("started", {"job_id": str(uuid.uuid4())}))
    assert response.status_code == 200
    assert response.json() == {"status": "unknown_job"}


def _exactly(length: int, alphabet: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[str]:
    return st.text(
        st.characters(codec="utf-8") if alphabet is None else alphabet, min_size=length, max_size=length
    )


_WEBHOOK_IDS = _exactly(256, st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="."))
_SCORE_LIMITS = st.sampled_from([0.0, 100.0])
_WORD_AT_LIMITS = st.fixed_dictionaries(
    {
        "index": st.just(100_000),
        "text": _exactly(100),
        "score": _SCORE_LIMITS,
        "status": st.sampled_from(["ok", "mispronounced", "omitted"]),
        "start": st.just(0.0),
        "end": st.floats(min_value=0, max_value=1e300),
    }
)
_EVENTS_AT_LIMITS = st.one_of(
    st.tuples(st.just("started"), st.just({})),
    st.tuples(
        st.just("progress"),
        st.fixed_dictionaries({"percent": st.sampled_from([0, 100]), "stage": _exactly(32)}),
    ),
    st.tuples(
        st.just("completed"),
        st.fixed_dictionaries(
            {
                "result": st.fixed_dictionaries(
                    {
                        "overall": _SCORE_LIMITS,
                        "scores": st.dictionaries(_exactly(64), _SCORE_LIMITS, min_size=1, max_size=5),
                        "words": st.lists(_WORD_AT_LIMITS, min_size=1, max_size=3),
                    }
                )
            }
        ),
    ),
    st.tuples(st.just("failed"), st.fixed_dictionaries({"code": _exactly(64), "message": _exactly(1000)})),
)


@hypothesis_settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(webhook_id=_WEBHOOK_IDS, event=_EVENTS_AT_LIMITS)
async def test_every_webhook_field_at_its_documented_limit_is_never_a_server_error(
    client: httpx.AsyncClient,
    container: Container,
    reference_token: dict[str, Any],
    webhook_id: str,
    event: tuple[str, dict[str, Any]],
) -> None:
    """docs/analysis-protocol.md's limits: codes of 64, stages of 32, messages of 1000 characters..."""
    async with container.unit_of_work() as uow:
        user = await uow.users.get_by_email("admin@example.com")
        assert user is not None
        job_id = uuid7()
        recording = Recording(f"recordings/{job_id}.wav", "audio/wav", 1.0, 32_044)
        job = Job.create(
            job_id,
            user.id,
            ReferenceKind.TOKEN,
            uuid.UUID(reference_token["id"]),
            datetime.now(UTC),
            recording,
            deadline=timedelta(hours=1),
        )
        await uow.jobs.add(job)
        await uow.commit()
    name, fields = event

    response = await _deliver(client, *signed(name, {"job_id": str(job.id), **fields}, msg_id=webhook_id))

    assert response.status_code < 500, response.text
