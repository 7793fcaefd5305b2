"""`GET /client-config`: the limits and names the web client reads instead of keeping copies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from entrypoints.bootstrap import Container, build_container
from entrypoints.settings import Settings


@pytest.fixture
async def container(settings: Settings) -> AsyncIterator[Container]:
    limits = replace(settings, token_max_seconds=12.5, script_max_bytes=1234567, min_recording_seconds=0.7)
    built = await build_container(limits)
    yield built
    await built.close()


async def test_anyone_reads_the_recording_limits_the_server_enforces(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/client-config")

    assert response.status_code == 200
    limits = response.json()["recording_limits"]
    assert limits["token"]["max_seconds"] == 12.5
    assert limits["token"]["min_seconds"] == 0.7
    assert limits["script"]["max_bytes"] == 1234567
    assert set(limits) == {"token", "script"}


async def test_the_config_names_stages_aspects_and_formats_and_bounds_typed_text(
    client: httpx.AsyncClient,
) -> None:
    config = (await client.get("/v1/client-config")).json()

    assert config["progress_stages"][0] == "queued"
    assert config["progress_stages"][-1] == "scoring"
    assert config["score_aspects"] == ["pronunciation", "intonation", "rhythm", "energy", "completeness"]
    assert config["word_statuses"] == ["ok", "mispronounced", "omitted"]
    assert config["terminal_job_event_types"] == ["completed", "failed", "cancelled"]
    assert set(config["terminal_job_event_types"]) < set(config["job_event_types"])
    assert config["terminal_job_statuses"] == ["completed", "failed", "cancelled"]
    mp4 = next(item for item in config["audio_formats"] if item["name"] == "mp4")
    assert mp4 == {"name": "mp4", "content_type": "audio/mp4", "file_extensions": ["m4a", "mp4"]}
    assert config["text_limits"] == {
        "email_max": 254,
        "password_min": 8,
        "password_max": 256,
        "display_name_max": 80,
        "search_max": 200,
    }


async def test_a_display_name_one_longer_than_the_advertised_limit_is_refused(
    client: httpx.AsyncClient,
) -> None:
    longest = (await client.get("/v1/client-config")).json()["text_limits"]["display_name_max"]
    body = {"email": "limits@example.com", "password": "correct horse battery"}

    too_long = await client.post("/v1/auth/signup", json={**body, "display_name": "x" * (longest + 1)})
    fits = await client.post("/v1/auth/signup", json={**body, "display_name": "x" * longest})

    assert too_long.status_code == 400
    assert fits.status_code == 201


async def test_the_config_is_described_in_the_openapi(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/v1/openapi.json")).json()

    operation = schema["paths"]["/v1/client-config"]["get"]
    assert "security" not in operation or operation["security"] == []
    assert {"ClientConfigOut", "RecordingLimitsOut", "TextLimitsOut"} <= set(schema["components"]["schemas"])


async def test_the_config_says_above_which_size_recordings_go_up_resumably_and_in_what_parts(
    client: httpx.AsyncClient,
) -> None:
    resumable = (await client.get("/v1/client-config")).json()["resumable_uploads"]

    assert resumable == {"above_bytes": 5 * 1024 * 1024, "part_bytes": 5 * 1024 * 1024}
