"""The upload limits from the environment are the ones the API enforces (README, "Configuration")."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from entrypoints.settings import Settings
from tests.support.api_client import SignUp
from tests.support.recordings import tone

# Each refusal below would be a 202 under the defaults (10 MiB, 30 s, at least 0.3 s).
LIMITS_ENV = {
    "TOKEN_UPLOAD_MAX_BYTES": "100000",
    "TOKEN_UPLOAD_MAX_SECONDS": "2",
    "UPLOAD_MIN_SECONDS": "1.5",
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    from_env = Settings.from_env(LIMITS_ENV)
    return replace(
        settings,
        token_max_bytes=from_env.token_max_bytes,
        token_max_seconds=from_env.token_max_seconds,
        min_recording_seconds=from_env.min_recording_seconds,
    )


@pytest.mark.parametrize(
    ("seconds", "status", "problem"),
    [
        (1.8, 202, None),
        (2.5, 422, "audio-too-long"),
        (1.0, 422, "audio-too-short"),
        (3.5, 413, "audio-too-large"),
    ],
)
async def test_a_token_recording_is_judged_by_the_configured_limits(
    client: httpx.AsyncClient,
    sign_up: SignUp,
    reference_token: dict[str, Any],
    seconds: float,
    status: int,
    problem: str | None,
) -> None:
    me = await sign_up()

    response = await client.post(
        f"/v1/tokens/{reference_token['id']}/upload-audio",
        files={"file": ("take.wav", tone(seconds))},
        headers=me,
    )

    assert response.status_code == status, response.text
    if problem is not None:
        assert response.json()["type"] == f"/problems/{problem}"
