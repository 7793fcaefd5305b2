"""Recording uploads over HTTP: validation, the job/outbox transaction, idempotency keys, direct uploads."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from asyncpg.exceptions import CannotConnectNowError
from sqlalchemy import text

from adapters.persistence.job_intake import AsyncpgJobIntake
from domain.analysis.results import AnalysisResult
from entrypoints.bootstrap import Container
from tests.support.api_client import SignUp
from tests.support.recordings import tone


async def _counts(container: Container) -> tuple[int, int, int]:
    async with container.engine.connect() as connection:
        jobs = await connection.scalar(text("SELECT count(*) FROM jobs"))
        outbox = await connection.scalar(text("SELECT count(*) FROM outbox"))
        events = await connection.scalar(text("SELECT count(*) FROM job_events"))
    return int(jobs or 0), int(outbox or 0), int(events or 0)


async def _recordings(container: Container) -> list[str]:
    return await container.storage.list_keys("recordings/")


async def test_upload_answers_202_with_the_job_and_writes_job_outbox_and_first_event(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any], container: Container
) -> None:
    me = await sign_up()
    response = await client.post(
        f"/v1/tokens/{reference_token['id']}/upload-audio",
        files={"file": ("take.webm", tone(1.0, "webm"))},
        headers=me,
    )
    assert response.status_code == 202, response.text
    job = response.json()
    assert (job["status"], job["kind"]) == ("queued", "token")
    assert job["links"] == {"self": f"/v1/jobs/{job['id']}", "events": f"/v1/jobs/{job['id']}/events"}
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["recording"]["content_type"] == "audio/webm"
    assert await _counts(container) == (1, 1, 1)
    assert await _recordings(container) == [f"recordings/{job['id']}.webm"]


@pytest.mark.parametrize(
    ("payload", "status", "problem"),
    [
        (b"%PDF-1.7 not audio at all" * 10, 415, "unsupported-audio-format"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64), 422, "undecodable-audio"),
        ("short", 422, "audio-too-short"),
        ("long", 422, "audio-too-long"),
    ],
)
async def test_rejected_uploads_leave_no_job_no_outbox_row_and_no_object(
    client: httpx.AsyncClient,
    sign_up: SignUp,
    reference_token: dict[str, Any],
    container: Container,
    payload: bytes | str,
    status: int,
    problem: str,
) -> None:
    data = (
        {"short": lambda: tone(0.1), "long": lambda: tone(31.0)}[payload]()
        if isinstance(payload, str)
        else payload
    )
    me = await sign_up()
    response = await client.post(
        f"/v1/tokens/{reference_token['id']}/upload-audio",
        files={"file": ("x.wav", data, "audio/wav")},
        headers=me,
    )
    assert response.status_code == status, response.text
    assert response.json()["type"] == f"/problems/{problem}"
    assert await _counts(container) == (0, 0, 0)
    assert await _recordings(container) == []


async def test_an_upload_over_the_size_limit_is_413(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any], container: Container
) -> None:
    me = await sign_up()
    too_big = b"RIFF" + bytes(11 * 1024 * 1024)
    response = await client.post(
        f"/v1/tokens/{reference_token['id']}/upload-audio", files={"file": ("big.wav", too_big)}, headers=me
    )
    assert response.status_code == 413
    assert await _counts(container) == (0, 0, 0)


async def test_uploads_need_sign_in_and_a_practisable_target(
    client: httpx.AsyncClient, sign_up: SignUp, admin_headers: dict[str, str]
) -> None:
    anonymous = await client.post(f"/v1/tokens/{uuid4()}/upload-audio", files={"file": ("x.wav", tone(1.0))})
    assert anonymous.status_code == 401
    me = await sign_up()
    unknown = await client.post(
        f"/v1/tokens/{uuid4()}/upload-audio", files={"file": ("x.wav", tone(1.0))}, headers=me
    )
    assert unknown.status_code == 404
    script = (
        await client.post("/v1/scripts", json={"title": "T", "text": "t"}, headers=admin_headers)
    ).json()
    no_reference = await client.post(
        f"/v1/scripts/{script['id']}/upload-audio", files={"file": ("x.wav", tone(1.0))}, headers=me
    )
    assert no_reference.status_code == 409


async def test_a_token_id_under_scripts_is_not_found(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any]
) -> None:
    me = await sign_up()
    response = await client.post(
        f"/v1/scripts/{reference_token['id']}/upload-audio", files={"file": ("x.wav", tone(1.0))}, headers=me
    )
    assert response.status_code == 404
    assert response.json()["type"] == "/problems/not-found"


async def test_a_job_outlives_its_deleted_token_without_a_target(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any], admin_headers: dict[str, str]
) -> None:
    me = await sign_up()
    url = f"/v1/tokens/{reference_token['id']}/upload-audio"
    job = (await client.post(url, files={"file": ("a.wav", tone(1.0))}, headers=me)).json()
    assert job["target_id"] == reference_token["id"]
    deleted = await client.delete(f"/v1/tokens/{reference_token['id']}", headers=admin_headers)
    assert deleted.status_code == 204
    kept = await client.get(f"/v1/jobs/{job['id']}", headers=me)
    assert kept.status_code == 200
    assert (kept.json()["kind"], kept.json()["target_id"]) == ("token", None)


async def test_a_retry_with_the_same_idempotency_key_replays_the_first_response(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any], container: Container
) -> None:
    me = {**(await sign_up()), "Idempotency-Key": "take-1"}
    url = f"/v1/tokens/{reference_token['id']}/upload-audio"
    recording = tone(1.0)
    first = await client.post(url, files={"file": ("a.wav", recording)}, headers=me)
    again = await client.post(url, files={"file": ("a.wav", recording)}, headers=me)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await _counts(container) == (1, 1, 1)


async def test_the_keys_response_is_stored_by_the_jobs_own_transaction(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any], container: Container
) -> None:
    """No separate completion of the key: the job's transaction stored its response, so the replay
    works although completing a key on its own fails."""
    me = {**(await sign_up()), "Idempotency-Key": "one-transaction"}
    url = f"/v1/tokens/{reference_token['id']}/upload-audio"
    completions: list[str] = []

    async def complete_fails(scope: str, key: str, response: Any) -> None:
        completions.append(key)
        raise AssertionError("the key was completed on its own")

    container.idempotency.complete = complete_fails  # type: ignore[method-assign]
    first = await client.post(url, files={"file": ("a.wav", tone(1.0))}, headers=me)
    again = await client.post(url, files={"file": ("a.wav", tone(1.0))}, headers=me)

    assert first.status_code == again.status_code == 202, first.text
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert completions == []
    assert await _counts(container) == (1, 1, 1)


async def test_the_same_key_with_another_payload_is_422(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any]
) -> None:
    me = {**(await sign_up()), "Idempotency-Key": "take-2"}
    url = f"/v1/tokens/{reference_token['id']}/upload-audio"
    assert (await client.post(url, files={"file": ("a.wav", tone(1.0))}, headers=me)).status_code == 202
    other = await client.post(url, files={"file": ("a.wav", tone(1.2))}, headers=me)
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"


async def test_idempotency_keys_are_scoped_to_the_user(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any], container: Container
) -> None:
    url = f"/v1/tokens/{reference_token['id']}/upload-audio"
    for _ in range(2):
        headers = {**(await sign_up()), "Idempotency-Key": "shared-key"}
        assert (
            await client.post(url, files={"file": ("a.wav", tone(1.0))}, headers=headers)
        ).status_code == 202
    assert (await _counts(container))[0] == 2


async def test_a_request_still_in_flight_under_the_key_is_409(
    client: httpx.AsyncClient,
    sign_up: SignUp,
    reference_token: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    me = {**(await sign_up()), "Idempotency-Key": "slow-take"}
    url = f"/v1/tokens/{reference_token['id']}/upload-audio"
    entered, release = asyncio.Event(), asyncio.Event()
    original = AsyncpgJobIntake.accept

    async def slow_accept(self: AsyncpgJobIntake, *args: Any, **kwargs: Any) -> Any:
        if not entered.is_set():  # the first upload: its key was claimed by its reference read
            entered.set()
            await release.wait()
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(AsyncpgJobIntake, "accept", slow_accept)
    first = asyncio.create_task(client.post(url, files={"file": ("a.wav", tone(1.0))}, headers=me))
    await asyncio.wait_for(entered.wait(), timeout=10)
    second = await client.post(url, files={"file": ("a.wav", tone(1.0))}, headers=me)
    release.set()
    assert second.status_code == 409
    assert (await first).status_code == 202


async def test_a_failed_request_frees_its_key_for_a_retry(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any]
) -> None:
    me = {**(await sign_up()), "Idempotency-Key": "retry-me"}
    url = f"/v1/tokens/{reference_token['id']}/upload-audio"
    assert (
        await client.post(url, files={"file": ("a.wav", b"not audio" * 20)}, headers=me)
    ).status_code == 415
    assert (
        await client.post(url, files={"file": ("a.wav", b"not audio" * 20)}, headers=me)
    ).status_code == 415


async def test_an_upload_failing_with_the_database_frees_its_key_once_the_database_is_back(
    client: httpx.AsyncClient,
    sign_up: SignUp,
    reference_token: dict[str, Any],
    container: Container,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Postgres going away mid-request fails the upload (503) and the release of its key alike; the key
    is freed in the background when the database answers again, so the client's retry is not a 409."""
    me = {**(await sign_up()), "Idempotency-Key": "outage-take"}
    url = f"/v1/tokens/{reference_token['id']}/upload-audio"
    original_accept, original_release = AsyncpgJobIntake.accept, container.idempotency.release
    releases: list[str] = []

    async def accept_while_postgres_stops(self: AsyncpgJobIntake, *args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(AsyncpgJobIntake, "accept", original_accept)  # after the key's claim
        raise CannotConnectNowError("the database system is shutting down")

    async def release_while_postgres_is_down(scope: str, key: str) -> None:
        releases.append(key)
        if len(releases) == 1:
            raise CannotConnectNowError("the database system is starting up")
        await original_release(scope, key)

    monkeypatch.setattr(AsyncpgJobIntake, "accept", accept_while_postgres_stops)
    container.idempotency.release = release_while_postgres_is_down  # type: ignore[method-assign]
    failed = await client.post(url, files={"file": ("a.wav", tone(1.0))}, headers=me)
    assert failed.status_code == 503, failed.text
    assert failed.json()["dependency"] == "postgres"

    answers = []
    for _ in range(5):  # as a client honouring Retry-After would
        answer = await client.post(url, files={"file": ("a.wav", tone(1.0))}, headers=me)
        answers.append(answer.status_code)
        if answer.status_code != 409:
            break
        await asyncio.sleep(float(answer.headers["Retry-After"]))

    assert answers[-1] == 202, answers
    assert releases[:2] == ["outage-take", "outage-take"]


async def test_direct_upload_then_submit_queues_the_job(
    client: httpx.AsyncClient, sign_up: SignUp, reference_script: dict[str, Any], container: Container
) -> None:
    me = await sign_up()
    recording = tone(1.0, "ogg")
    started = await client.post(
        f"/v1/scripts/{reference_script['id']}/uploads",
        json={"content_type": "audio/ogg", "size_bytes": len(recording)},
        headers=me,
    )
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["job"]["status"] == "awaiting_upload"
    assert body["upload"]["method"] == "PUT"
    assert body["upload"]["expires_at"]

    early = await client.post(body["submit"], headers=me)
    assert early.status_code == 409

    put = await client.put(
        body["upload"]["url"].removeprefix("http://testserver.local"),
        content=recording,
        headers=body["upload"]["headers"],
    )
    assert put.status_code in (200, 204), put.text
    submitted = await client.post(body["submit"], headers=me)
    assert submitted.status_code == 202, submitted.text
    assert submitted.json()["status"] == "queued"
    assert submitted.json()["recording"]["content_type"] == "audio/ogg"
    assert await _counts(container) == (1, 1, 1)
    assert (await client.post(body["submit"], headers=me)).status_code == 409


async def test_a_rejected_direct_upload_is_deleted_and_the_job_keeps_waiting(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any], container: Container
) -> None:
    me = await sign_up()
    not_audio = b"plain text, not audio" * 10
    body = (
        await client.post(
            f"/v1/tokens/{reference_token['id']}/uploads",
            json={"content_type": "audio/wav", "size_bytes": len(not_audio)},
            headers=me,
        )
    ).json()
    await client.put(
        body["upload"]["url"].removeprefix("http://testserver.local"),
        content=not_audio,
        headers=body["upload"]["headers"],
    )
    rejected = await client.post(body["submit"], headers=me)
    assert rejected.status_code == 415
    assert await _recordings(container) == []
    assert (await client.get(f"/v1/jobs/{body['job']['id']}", headers=me)).json()[
        "status"
    ] == "awaiting_upload"
    assert (await _counts(container))[1] == 0


async def test_jobs_are_private_list_filters_and_cancel(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any]
) -> None:
    me, other = await sign_up(), await sign_up()
    job = (
        await client.post(
            f"/v1/tokens/{reference_token['id']}/upload-audio",
            files={"file": ("a.wav", tone(1.0))},
            headers=me,
        )
    ).json()
    assert (await client.get(f"/v1/jobs/{job['id']}", headers=other)).status_code == 404
    assert (await client.post(f"/v1/jobs/{job['id']}/cancel", headers=other)).status_code == 404
    assert (await client.get("/v1/jobs", headers=other)).json()["total"] == 0
    mine = (await client.get("/v1/jobs", params={"kind": "token", "status": "queued"}, headers=me)).json()
    assert [j["id"] for j in mine["items"]] == [job["id"]]
    assert (await client.get("/v1/jobs", params={"status": "bogus"}, headers=me)).status_code == 400

    cancelled = await client.post(f"/v1/jobs/{job['id']}/cancel", headers=me)
    assert cancelled.json()["status"] == "cancelled"
    assert (await client.post(f"/v1/jobs/{job['id']}/cancel", headers=me)).status_code == 409


async def _start_direct(
    client: httpx.AsyncClient, me: dict[str, str], token_id: str, size: int
) -> httpx.Response:
    return await client.post(
        f"/v1/tokens/{token_id}/uploads", json={"content_type": "audio/wav", "size_bytes": size}, headers=me
    )


async def test_a_direct_upload_declared_past_the_limit_is_413_and_makes_no_job(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any], container: Container
) -> None:
    too_big = container.settings.token_max_bytes + 1
    refused = await _start_direct(client, await sign_up(), reference_token["id"], too_big)

    assert (refused.status_code, refused.json()["type"]) == (413, "/problems/audio-too-large")
    assert await _counts(container) == (0, 0, 0)


async def test_the_upload_url_refuses_a_body_of_another_size_than_declared(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any], container: Container
) -> None:
    recording = tone(1.0)
    body = (await _start_direct(client, await sign_up(), reference_token["id"], len(recording))).json()
    url = body["upload"]["url"].removeprefix("http://testserver.local")
    headers = {"Content-Type": body["upload"]["headers"]["Content-Type"]}

    bigger = await client.put(url, content=recording + b"\0" * 1024 * 1024, headers=headers)

    assert (bigger.status_code, bigger.json()["type"]) == (403, "/problems/forbidden")
    assert await _recordings(container) == []


async def test_after_submit_the_upload_url_cannot_change_what_is_analysed(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any], container: Container
) -> None:
    me = await sign_up()
    recording = tone(1.0)
    body = (await _start_direct(client, me, reference_token["id"], len(recording))).json()
    url = body["upload"]["url"].removeprefix("http://testserver.local")
    assert (await client.put(url, content=recording, headers=body["upload"]["headers"])).status_code == 204
    assert (await client.post(body["submit"], headers=me)).status_code == 202

    swapped = b"\xff" * len(recording)  # same length, so the signature still holds
    assert (await client.put(url, content=swapped, headers=body["upload"]["headers"])).status_code == 204

    async with container.unit_of_work() as uow:
        job = await uow.jobs.get(UUID(body["job"]["id"]))
    assert job is not None
    assert job.recording is not None
    assert not job.recording.key.endswith(".upload")
    assert await container.storage.get(job.recording.key) == recording


async def test_an_upload_of_analysed_bytes_completes_at_once_and_the_same_key_with_reuse_false_is_refused(
    client: httpx.AsyncClient, sign_up: SignUp, reference_token: dict[str, Any], container: Container
) -> None:
    me = await sign_up()
    path = f"/v1/tokens/{reference_token['id']}/upload-audio"
    take = tone(1.0)
    first = (await client.post(path, files={"file": ("a.wav", take)}, headers=me)).json()
    async with container.unit_of_work() as uow:  # as the analysis server's completed webhook would
        job = await uow.jobs.get_for_update(UUID(first["id"]))
        assert job is not None
        job.complete(AnalysisResult(overall=64.0, scores={"rhythm": 64.0}), job.updated_at)
        await uow.jobs.save(job)
        await uow.commit()
    keyed = {**me, "Idempotency-Key": "take-2"}

    reused = await client.post(path, files={"file": ("b.wav", take)}, headers=keyed)
    fresh = await client.post(path, params={"reuse": "false"}, files={"file": ("b.wav", take)}, headers=keyed)

    assert reused.status_code == 202
    assert (reused.json()["status"], reused.json()["reused_from"]) == ("completed", first["id"])
    assert reused.json()["result"]["overall"] == 64.0
    assert (await client.get(reused.headers["location"], headers=me)).json() == reused.json()
    assert fresh.status_code == 422  # another payload under the same key: reuse=false is not a replay
    schema = (await client.get("/v1/openapi.json")).json()
    for operation in (schema["paths"]["/v1/tokens/{token_id}/upload-audio"]["post"],
                      schema["paths"]["/v1/jobs/{job_id}/submit"]["post"]):  # fmt: skip
        assert "reuse" in [parameter["name"] for parameter in operation["parameters"]]
