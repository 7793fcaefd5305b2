"""The one settings mechanism: every program reads its variables, booleans and refusals the same way."""

from __future__ import annotations

import pytest

from entrypoints.analysis_server.settings import AnalysisServerSettings
from entrypoints.settings import Settings
from entrypoints.worker import WorkerSettings
from shared_kernel.settings import ConfigurationError

PROGRAMS = [Settings, WorkerSettings, AnalysisServerSettings]
# What each program needs besides the variable a test is about: the analysis server, a bearer token.
BASE_ENV: dict[type, dict[str, str]] = {AnalysisServerSettings: {"ANALYSIS_SERVER_AUTH_TOKEN": "t" * 40}}


def env_of(program: type, **variables: str) -> dict[str, str]:
    return {**BASE_ENV.get(program, {}), **variables}


@pytest.mark.parametrize(("raw", "value"), [("off", False), ("NO", False), ("1", True), (" yes ", True)])
def test_a_boolean_reads_every_usual_spelling(raw: str, value: bool) -> None:
    assert Settings.from_env({"CORS_ALLOW_CREDENTIALS": raw}).cors_allow_credentials is value


def test_an_unreadable_boolean_is_refused_naming_it() -> None:
    with pytest.raises(ConfigurationError, match="CORS_ALLOW_CREDENTIALS: not a boolean"):
        Settings.from_env({"CORS_ALLOW_CREDENTIALS": "maybe"})


@pytest.mark.parametrize("program", [Settings, AnalysisServerSettings])
def test_every_program_reads_the_log_format_alike(program: type[Settings]) -> None:
    assert program.from_env(env_of(program, LOG_FORMAT=" Console ")).log_format == "console"


@pytest.mark.parametrize("program", [Settings, AnalysisServerSettings])
def test_every_program_refuses_an_unknown_log_format_naming_it(program: type[Settings]) -> None:
    with pytest.raises(ConfigurationError, match=r"^LOG_FORMAT: "):
        program.from_env(env_of(program, LOG_FORMAT="yaml"))


@pytest.mark.parametrize(
    ("program", "variable"),
    [
        (Settings, "DATABASE_POOL_SIZE"),
        (Settings, "TOKEN_UPLOAD_MAX_SECONDS"),
        (WorkerSettings, "WORKER_CONCURRENCY"),
        (AnalysisServerSettings, "ANALYSIS_SERVER_QUEUE_SIZE"),
    ],
)
def test_a_number_out_of_range_is_refused_naming_its_variable(program: type, variable: str) -> None:
    with pytest.raises(ConfigurationError, match=f"^{variable}: "):
        program.from_env({variable: "0"})


@pytest.mark.parametrize("program", PROGRAMS)
def test_an_empty_variable_counts_as_unset(program: type) -> None:
    names = {
        Settings: "DATABASE_POOL_SIZE",
        WorkerSettings: "WORKER_CONCURRENCY",
        AnalysisServerSettings: "ANALYSIS_SERVER_QUEUE_SIZE",
    }

    assert program.from_env(env_of(program, **{names[program]: " "})) == program.from_env(env_of(program))


@pytest.mark.parametrize("program", [Settings, AnalysisServerSettings])
def test_an_empty_app_env_is_refused_rather_than_read_as_development(program: type[Settings]) -> None:
    with pytest.raises(ConfigurationError, match="APP_ENV"):
        program.from_env({"APP_ENV": ""})


def test_a_number_may_carry_spaces_around_it() -> None:
    assert WorkerSettings.from_env({"WORKER_CONCURRENCY": " 25 "}).concurrency == 25


def test_the_upload_limits_are_read() -> None:
    settings = Settings.from_env(
        {
            "TOKEN_UPLOAD_MAX_BYTES": "1000",
            "TOKEN_UPLOAD_MAX_SECONDS": "2.5",
            "SCRIPT_UPLOAD_MAX_BYTES": "2000",
            "SCRIPT_UPLOAD_MAX_SECONDS": "9",
            "UPLOAD_MIN_SECONDS": "1.5",
        }
    )

    assert (
        settings.token_max_bytes,
        settings.token_max_seconds,
        settings.script_max_bytes,
        settings.script_max_seconds,
        settings.min_recording_seconds,
    ) == (1000, 2.5, 2000, 9.0, 1.5)


def test_the_analysis_server_and_the_api_share_the_bearer_token_variable() -> None:
    env = {"ANALYSIS_SERVER_AUTH_TOKEN": "t" * 40}

    assert (
        Settings.from_env(env).analysis_server_auth_token == AnalysisServerSettings.from_env(env).auth_token
    )
