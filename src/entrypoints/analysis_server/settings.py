"""The analysis server's configuration from environment variables (README, "Reference analysis server")."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from shared_kernel.settings import DEV_WEBHOOK_SECRET, ENVIRONMENTS, MIN_SECRET_LENGTH, ConfigurationError
from shared_kernel.webhooks import InvalidWebhookSecret, parse_webhook_secrets


@dataclass(frozen=True, slots=True)
class AnalysisServerSettings:
    environment: str = "development"
    concurrency: int = os.cpu_count() or 1
    queue_size: int = 32
    auth_token: str | None = None
    webhook_secret: str = DEV_WEBHOOK_SECRET
    max_download_bytes: int = 32 * 1024 * 1024
    max_audio_seconds: float = 180.0
    download_timeout_seconds: float = 30.0
    webhook_give_up_seconds: float = 600.0
    remember_jobs_seconds: float = 3600.0
    shutdown_grace_seconds: float = 20.0
    log_level: str = "INFO"
    log_json: bool = True

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AnalysisServerSettings:
        """ANALYSIS_WEBHOOK_SECRET signs the webhooks; unset, the first of ANALYSIS_WEBHOOK_SECRETS does
        (the API's list), so one machine running both needs the secret once."""
        env = os.environ if env is None else env
        defaults = cls()
        try:
            settings = cls(
                environment=env.get("APP_ENV", defaults.environment).strip().lower(),
                concurrency=_number(env, "ANALYSIS_SERVER_CONCURRENCY", defaults.concurrency),
                queue_size=_number(env, "ANALYSIS_SERVER_QUEUE_SIZE", defaults.queue_size),
                auth_token=env.get("ANALYSIS_SERVER_AUTH_TOKEN") or None,
                webhook_secret=_webhook_secret(env),
                max_download_bytes=_number(
                    env, "ANALYSIS_SERVER_MAX_DOWNLOAD_BYTES", defaults.max_download_bytes
                ),
                max_audio_seconds=_number(
                    env, "ANALYSIS_SERVER_MAX_AUDIO_SECONDS", defaults.max_audio_seconds
                ),
                download_timeout_seconds=_number(
                    env, "ANALYSIS_SERVER_DOWNLOAD_TIMEOUT_SECONDS", defaults.download_timeout_seconds
                ),
                webhook_give_up_seconds=_number(
                    env, "ANALYSIS_SERVER_WEBHOOK_GIVE_UP_SECONDS", defaults.webhook_give_up_seconds
                ),
                remember_jobs_seconds=_number(
                    env, "ANALYSIS_SERVER_REMEMBER_JOBS_SECONDS", defaults.remember_jobs_seconds
                ),
                shutdown_grace_seconds=_number(
                    env, "ANALYSIS_SERVER_SHUTDOWN_GRACE_SECONDS", defaults.shutdown_grace_seconds
                ),
                log_level=env.get("LOG_LEVEL", defaults.log_level).upper(),
                log_json=env.get("LOG_JSON", "true").strip().lower() not in {"0", "false", "no", "off"},
            )
        except ValueError as error:
            raise ConfigurationError(f"invalid analysis server setting: {error}") from error
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ConfigurationError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}")
        if self.concurrency < 1 or self.queue_size < 1:
            raise ConfigurationError(
                "ANALYSIS_SERVER_CONCURRENCY and ANALYSIS_SERVER_QUEUE_SIZE must be >= 1"
            )
        if min(self.max_download_bytes, self.max_audio_seconds, self.download_timeout_seconds) <= 0:
            raise ConfigurationError("the analysis server's download and audio limits must be positive")
        if self.webhook_give_up_seconds <= 0 or self.remember_jobs_seconds <= 0:
            raise ConfigurationError("the analysis server's webhook and memory durations must be positive")
        if self.is_production:
            if self.webhook_secret == DEV_WEBHOOK_SECRET:
                raise ConfigurationError(
                    "ANALYSIS_WEBHOOK_SECRET (or ANALYSIS_WEBHOOK_SECRETS) must be set, not the development one"
                )
            # Whoever may call the server makes it fetch URLs and post to callbacks of their choosing.
            if self.auth_token is None or len(self.auth_token) < MIN_SECRET_LENGTH:
                raise ConfigurationError(
                    f"ANALYSIS_SERVER_AUTH_TOKEN of at least {MIN_SECRET_LENGTH} characters is required "
                    "when APP_ENV=production"
                )


N = TypeVar("N", int, float)


def _number(env: Mapping[str, str], name: str, default: N) -> N:
    """``name`` read as the default's type; unset or empty, the default."""
    raw = env.get(name)
    return type(default)(raw) if raw else default


def _webhook_secret(env: Mapping[str, str]) -> str:
    raw = env.get("ANALYSIS_WEBHOOK_SECRET") or env.get("ANALYSIS_WEBHOOK_SECRETS") or DEV_WEBHOOK_SECRET
    try:
        secrets = parse_webhook_secrets(raw)
    except InvalidWebhookSecret as error:
        raise ConfigurationError(f"ANALYSIS_WEBHOOK_SECRET: {error}") from error
    if not secrets:
        raise ConfigurationError("ANALYSIS_WEBHOOK_SECRET is empty")
    return secrets[0]
