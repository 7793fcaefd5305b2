"""The analysis server's configuration from the environment."""

from __future__ import annotations

import os

import pytest

from entrypoints.analysis_server.settings import AnalysisServerSettings
from entrypoints.settings import DEV_WEBHOOK_SECRET, ConfigurationError
from shared_kernel.webhooks import generate_webhook_secret

TOKEN = "t" * 40
AUTHENTICATED = {"ANALYSIS_SERVER_AUTH_TOKEN": TOKEN}


def test_the_concurrency_defaults_to_the_cpu_count() -> None:
    assert AnalysisServerSettings.from_env(AUTHENTICATED).concurrency == (os.cpu_count() or 1)


def test_the_queue_holds_32_orders_by_default() -> None:
    assert AnalysisServerSettings.from_env(AUTHENTICATED).queue_size == 32


def test_concurrency_and_queue_size_come_from_the_environment() -> None:
    settings = AnalysisServerSettings.from_env(
        {**AUTHENTICATED, "ANALYSIS_SERVER_CONCURRENCY": "3", "ANALYSIS_SERVER_QUEUE_SIZE": "7"}
    )

    assert (settings.concurrency, settings.queue_size) == (3, 7)


def test_webhooks_are_signed_with_the_servers_own_secret_when_set() -> None:
    own, api = generate_webhook_secret(), generate_webhook_secret()

    settings = AnalysisServerSettings.from_env(
        {**AUTHENTICATED, "ANALYSIS_WEBHOOK_SECRET": own, "ANALYSIS_WEBHOOK_SECRETS": api}
    )

    assert settings.webhook_secret == own


def test_webhooks_are_signed_with_the_first_of_the_apis_secrets_otherwise() -> None:
    first, second = generate_webhook_secret(), generate_webhook_secret()

    settings = AnalysisServerSettings.from_env(
        {**AUTHENTICATED, "ANALYSIS_WEBHOOK_SECRETS": f"{first},{second}"}
    )

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


def test_without_a_bearer_token_the_server_refuses_to_start_in_every_environment() -> None:
    with pytest.raises(ConfigurationError, match="ANALYSIS_SERVER_AUTH_TOKEN"):
        AnalysisServerSettings.from_env({"APP_ENV": "development"})


def test_the_development_switch_runs_it_without_a_bearer_token() -> None:
    settings = AnalysisServerSettings.from_env({"ANALYSIS_SERVER_ALLOW_UNAUTHENTICATED": "true"})

    assert (settings.auth_token, settings.allow_unauthenticated) == (None, True)


def test_production_refuses_the_development_switch() -> None:
    env = {
        "APP_ENV": "production",
        "ANALYSIS_WEBHOOK_SECRET": generate_webhook_secret(),
        "ANALYSIS_SERVER_AUTH_TOKEN": TOKEN,
        "ANALYSIS_SERVER_ALLOW_UNAUTHENTICATED": "true",
    }

    with pytest.raises(ConfigurationError, match="ANALYSIS_SERVER_ALLOW_UNAUTHENTICATED"):
        AnalysisServerSettings.from_env(env)


def test_no_host_is_allowed_unless_configured() -> None:
    settings = AnalysisServerSettings.from_env(AUTHENTICATED)

    assert (settings.allowed_hosts, settings.allowed_private_networks) == ((), ())


def test_the_allowed_hosts_and_networks_are_read_from_the_environment() -> None:
    settings = AnalysisServerSettings.from_env(
        {
            **AUTHENTICATED,
            "ANALYSIS_SERVER_ALLOWED_HOSTS": "api.example.com, *.storage.example.com",
            "ANALYSIS_SERVER_ALLOWED_PRIVATE_NETWORKS": "127.0.0.1/8,::1",
        }
    )

    assert (settings.allowed_hosts, settings.allowed_private_networks) == (
        ("api.example.com", "*.storage.example.com"),
        ("127.0.0.0/8", "::1/128"),
    )


def test_a_malformed_network_is_refused_naming_its_variable() -> None:
    with pytest.raises(ConfigurationError, match="ANALYSIS_SERVER_ALLOWED_PRIVATE_NETWORKS"):
        AnalysisServerSettings.from_env(
            {**AUTHENTICATED, "ANALYSIS_SERVER_ALLOWED_PRIVATE_NETWORKS": "localhost"}
        )
