"""`make run` (`voicepractice run-all`): the analysis server it starts wants a token and reaches this API only."""

from __future__ import annotations

import pytest

from adapters.reference_analysis.destinations import DestinationRefused
from entrypoints.analysis_server.composition import destination_guard
from entrypoints.analysis_server.settings import AnalysisServerSettings
from entrypoints.settings import Settings
from entrypoints.supervisor import let_the_analysis_server_reach_this_api

API = "http://127.0.0.1:8000"


def _environment(**variables: str) -> dict[str, str]:
    env = {"PUBLIC_BASE_URL": API, **variables}
    let_the_analysis_server_reach_this_api(env)
    return env


def test_the_api_and_the_analysis_server_share_a_fresh_bearer_token() -> None:
    env = _environment()

    assert (
        Settings.from_env(env).analysis_server_auth_token == AnalysisServerSettings.from_env(env).auth_token
    )
    assert (
        AnalysisServerSettings.from_env(env).auth_token
        != AnalysisServerSettings.from_env(_environment()).auth_token
    )


def test_a_token_already_set_is_kept() -> None:
    assert _environment(ANALYSIS_SERVER_AUTH_TOKEN="x" * 40)["ANALYSIS_SERVER_AUTH_TOKEN"] == "x" * 40


async def test_the_analysis_server_may_reach_this_api_and_nothing_else() -> None:
    guard = destination_guard(AnalysisServerSettings.from_env(_environment()))

    await guard.check(f"{API}/storage/recording.webm")
    await guard.check(f"{API}/webhooks/analysis")
    for elsewhere in ("http://169.254.169.254/", "http://10.0.0.1:8000/", "http://localhost:8000/"):
        with pytest.raises(DestinationRefused):
            await guard.check(elsewhere)
