"""The analysis server's configuration from the environment."""

from __future__ import annotations

import os

import pytest

from entrypoints.analysis_server.settings import AnalysisServerSettings
from entrypoints.settings import DEV_WEBHOOK_SECRET, ConfigurationError
from shared_kernel.webhooks import generate_webhook_secret

TOKEN = "t" * 40


def test_the_concurrency_defaults_to_the_cpu_count() -> None:
    assert AnalysisServerSettings.from_env({}).concurrency == (os.cpu_count() or 1)


def test_the_queue_holds_32_orders_by_default() -> None:
    assert AnalysisServerSettings.from_env({}).queue_size == 32


def test_concurrency_and_queue_size_come_from_the_environment() -> None:
    settings = AnalysisServerSettings.from_env(
        {"ANALYSIS_SERVER_CONCURRENCY": "3", "ANALYSIS_SERVER_QUEUE_SIZE": "7"}
    )

    assert (settings.concurrency, settings.queue_size) == (3, 7)


def test_webhooks_are_signed_with_the_servers_own_secret_when_set() -> None:
    own, api = generate_webhook_secret(), generate_webhook_secret()

    settings = AnalysisServerSettings.from_env(
        {"ANALYSIS_WEBHOOK_SECRET": own, "ANALYSIS_WEBHOOK_SECRETS": api}
    )

    assert settings.webhook_secret == own


def test_webhooks_are_signed_with_the_first_of_the_apis_secrets_otherwise() -> None:
    first, second = generate_webhook_secret(), generate_webhook_secret()

    settings = AnalysisServerSettings.from_env({"ANALYSIS_WEBHOOK_SECRETS": f"{first},{second}"})

    assert settings.webhook_secret == first


def test_a_malformed_webhook_secret_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        AnalysisServerSettings.from_env({"ANALYSIS_WEBHOOK_SECRET": "not-a-secret"})


def test_a_zero_concurrency_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        AnalysisServerSettings.from_env({"ANALYSIS_SERVER_CONCURRENCY": "0"})


def test_production_refuses_the_development_webhook_secret() -> None:
    env = {
        "APP_ENV": "production",
        "ANALYSIS_SERVER_AUTH_TOKEN": TOKEN,
        "ANALYSIS_WEBHOOK_SECRET": DEV_WEBHOOK_SECRET,
    }

    with pytest.raises(ConfigurationError):
        AnalysisServerSettings.from_env(env)


def test_production_refuses_to_run_without_a_bearer_token() -> None:
    env = {"APP_ENV": "production", "ANALYSIS_WEBHOOK_SECRET": generate_webhook_secret()}

    with pytest.raises(ConfigurationError):
        AnalysisServerSettings.from_env(env)


def test_production_runs_with_a_real_secret_and_a_bearer_token() -> None:
    env = {
        "APP_ENV": "production",
        "ANALYSIS_WEBHOOK_SECRET": generate_webhook_secret(),
        "ANALYSIS_SERVER_AUTH_TOKEN": TOKEN,
    }

    assert AnalysisServerSettings.from_env(env).is_production
