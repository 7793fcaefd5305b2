"""The settings of metrics and rate limits, and the storage variables Fly's Tigris sets."""

from __future__ import annotations

import pytest

from entrypoints.settings import ConfigurationError, Rate, Settings, parse_rate


@pytest.mark.parametrize(
    ("raw", "rate"),
    [
        ("30/minute", Rate(30, 60)),
        ("5/second", Rate(5, 1)),
        ("100/hour", Rate(100, 3600)),
        ("3/10s", Rate(3, 10)),
        (" 12 / minute ", Rate(12, 60)),
        ("12", Rate(12, 60)),
    ],
)
def test_a_rate_is_a_count_per_period(raw: str, rate: Rate) -> None:
    assert parse_rate(raw) == rate


@pytest.mark.parametrize("raw", ["off", "0", "0/minute", ""])
def test_a_rate_can_be_turned_off(raw: str) -> None:
    assert parse_rate(raw) is None


@pytest.mark.parametrize("raw", ["many/minute", "3/fortnight", "3/0s", "-1/minute"])
def test_a_malformed_rate_is_refused(raw: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_rate(raw)


def test_the_limits_default_to_30_uploads_and_10_log_ins_a_minute() -> None:
    settings = Settings.from_env({})
    assert (
        settings.upload_rate_limit,
        settings.login_rate_limit_per_account,
        settings.login_rate_limit_per_address,
    ) == (Rate(30, 60), Rate(10, 60), Rate(10, 60))


def test_the_limits_are_read_from_the_environment() -> None:
    settings = Settings.from_env({"UPLOAD_RATE_LIMIT": "5/minute", "LOGIN_RATE_LIMIT_PER_ADDRESS": "off"})
    assert (settings.upload_rate_limit, settings.login_rate_limit_per_address) == (Rate(5, 60), None)


def test_the_client_ip_header_is_unset_by_default() -> None:
    assert Settings.from_env({}).client_ip_header is None


def test_the_worker_exports_metrics_on_9100_by_default() -> None:
    assert Settings.from_env({}).worker_metrics_port == 9100


def test_the_worker_exports_metrics_on_loopback_by_default() -> None:
    assert Settings.from_env({}).worker_metrics_host == "127.0.0.1"


def test_the_worker_metrics_address_is_read_from_the_environment() -> None:
    assert Settings.from_env({"WORKER_METRICS_HOST": "::"}).worker_metrics_host == "::"


def test_a_worker_metrics_port_out_of_range_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="WORKER_METRICS_PORT"):
        Settings.from_env({"WORKER_METRICS_PORT": "70000"})


def test_metrics_are_open_without_a_token_outside_production() -> None:
    assert Settings.from_env({}).metrics_token is None


def test_a_short_metrics_token_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="METRICS_TOKEN"):
        Settings.from_env({"METRICS_TOKEN": "short"})


def test_the_bucket_falls_back_to_what_fly_storage_sets() -> None:
    assert Settings.from_env({"BUCKET_NAME": "tigris-bucket"}).s3.bucket == "tigris-bucket"


def test_the_endpoint_falls_back_to_what_fly_storage_sets() -> None:
    env = {"AWS_ENDPOINT_URL_S3": "https://fly.storage.tigris.dev"}
    assert Settings.from_env(env).s3.endpoint_url == "https://fly.storage.tigris.dev"


def test_s3_bucket_wins_over_bucket_name() -> None:
    assert Settings.from_env({"S3_BUCKET": "mine", "BUCKET_NAME": "tigris"}).s3.bucket == "mine"
