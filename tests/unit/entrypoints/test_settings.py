"""Settings.from_env: local defaults, URL normalisation, and what production refuses to start with."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from entrypoints.settings import (
    DEV_SECRET_KEY,
    DEV_STORAGE_URL_SECRET,
    MIN_SECRET_LENGTH,
    ConfigurationError,
    Settings,
)
from tests.support.environments import PRODUCTION_ENV


def production(**changes: str | None) -> dict[str, str]:
    """The production environment with variables changed, or removed when given None."""
    env = dict(PRODUCTION_ENV)
    for name, value in changes.items():
        if value is None:
            env.pop(name)
        else:
            env[name] = value
    return env


def test_default_database_is_postgres_on_localhost() -> None:
    url = urlsplit(Settings.from_env({}).database_url)
    assert (url.hostname, url.port) == ("127.0.0.1", 5432)


def test_default_redis_is_on_localhost() -> None:
    url = urlsplit(Settings.from_env({}).redis_url)
    assert (url.hostname, url.port) == ("127.0.0.1", 6379)


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_plain_postgres_urls_are_normalised_to_asyncpg(scheme: str) -> None:
    settings = Settings.from_env({"DATABASE_URL": f"{scheme}://app:pw@db.example.com:5432/voice"})
    assert settings.database_url == "postgresql+asyncpg://app:pw@db.example.com:5432/voice"


def test_production_with_proper_secrets_is_accepted() -> None:
    assert Settings.from_env(PRODUCTION_ENV).is_production


@pytest.mark.parametrize(
    "variable", ["SECRET_KEY", "STORAGE_URL_SECRET", "DATABASE_URL", "REDIS_URL", "METRICS_TOKEN"]
)
def test_production_refuses_a_missing_variable_naming_it(variable: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_env(production(**{variable: None}))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SECRET_KEY", DEV_SECRET_KEY),
        ("SECRET_KEY", "k" * (MIN_SECRET_LENGTH - 1)),
        ("STORAGE_URL_SECRET", DEV_STORAGE_URL_SECRET),
        ("STORAGE_URL_SECRET", "s" * (MIN_SECRET_LENGTH - 1)),
    ],
    ids=["dev-secret-key", "short-secret-key", "dev-storage-secret", "short-storage-secret"],
)
def test_production_refuses_a_dev_or_short_secret_naming_it(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_env(production(**{variable: value}))


def test_production_on_s3_needs_no_storage_url_secret() -> None:
    settings = Settings.from_env(production(STORAGE_BACKEND="s3", STORAGE_URL_SECRET=None))
    assert settings.storage_backend == "s3"


def test_wildcard_cors_origin_with_credentials_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="CORS_ALLOWED_ORIGINS"):
        Settings.from_env({"CORS_ALLOWED_ORIGINS": "*", "CORS_ALLOW_CREDENTIALS": "true"})


def test_unknown_storage_backend_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="STORAGE_BACKEND"):
        Settings.from_env({"STORAGE_BACKEND": "ftp"})


@pytest.mark.parametrize(
    "variable",
    [
        "DATABASE_POOL_SIZE",
        "ACCESS_TOKEN_TTL_SECONDS",
        "REFERENCE_AUDIO_MAX_BYTES",
        "REFERENCE_AUDIO_MAX_SECONDS",
    ],
)
def test_a_non_numeric_number_is_a_configuration_error(variable: str) -> None:
    with pytest.raises(ConfigurationError):
        Settings.from_env({variable: "lots"})


def test_an_unreadable_boolean_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="boolean"):
        Settings.from_env({"CORS_ALLOW_CREDENTIALS": "maybe"})
