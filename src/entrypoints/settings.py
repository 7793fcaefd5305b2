"""Configuration from environment variables; every variable is listed in the README."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEV_SECRET_KEY = "dev-only-secret-key-do-not-use-in-production-0123456789"
DEV_STORAGE_URL_SECRET = "dev-only-storage-url-secret-do-not-use-in-production"
# A fixed, well-known development secret: production refuses it (see _refuse_dev_secrets).
DEV_WEBHOOK_SECRET = "whsec_ZGV2LW9ubHktd2ViaG9vay1zZWNyZXQtMDEyMzQ1Njc4OQ=="
MIN_SECRET_LENGTH = 32
ENVIRONMENTS = ("development", "test", "production")


class ConfigurationError(Exception):
    """The environment describes a configuration the service must not run with."""


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``count`` events per ``period_seconds``, written ``30/minute`` in the environment."""

    count: int
    period_seconds: int

    def __str__(self) -> str:
        return f"{self.count}/{self.period_seconds}s"


_RATE_PERIODS = {"second": 1, "minute": 60, "hour": 3600}


def parse_rate(raw: str) -> Rate | None:
    """``30/minute`` (also ``/second``, ``/hour``, ``/<n>s``); ``off`` or ``0`` turns a limit off."""
    value = raw.strip().lower()
    if value in {"off", "0", "none", ""}:
        return None
    count, _, period = value.partition("/")
    period = period.strip() or "minute"
    seconds = _RATE_PERIODS.get(period)
    if seconds is None and period.endswith("s") and period[:-1].isdecimal():
        seconds = int(period[:-1])
    if seconds is None or not count.strip().isdecimal() or seconds < 1:
        raise ConfigurationError(f"not a rate (like 30/minute or off): {raw!r}")
    return Rate(int(count), seconds) if int(count) > 0 else None


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigurationError(f"not a boolean: {raw!r}")


def _list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.replace(" ", ",").split(",") if item.strip())


def _rate(env: Mapping[str, str], name: str, default: Rate | None) -> Rate | None:
    raw = env.get(name)
    return default if raw is None else parse_rate(raw)


def normalise_database_url(url: str) -> str:
    """Accept the ``postgres://`` URLs hosting providers hand out and use the asyncpg driver."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url.removeprefix(prefix)
    return url


@dataclass(frozen=True, slots=True)
class S3Settings:
    bucket: str = "voice-practice"
    region: str = "us-east-1"
    endpoint_url: str | None = None
    public_endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    addressing_style: str = "path"


@dataclass(frozen=True, slots=True)
class Settings:
    environment: str = "development"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/voice_practice"
    database_pool_size: int = 10
    redis_url: str = "redis://127.0.0.1:6379/0"
    queue_name: str = "voice-practice"
    secret_key: str = DEV_SECRET_KEY
    access_token_ttl_seconds: int = 3600
    public_base_url: str = "http://127.0.0.1:8000"
    storage_backend: str = "local"
    local_storage_dir: Path = Path("var/storage")
    storage_url_secret: str = DEV_STORAGE_URL_SECRET
    s3: S3Settings = field(default_factory=S3Settings)
    cors_allowed_origins: tuple[str, ...] = ("http://127.0.0.1:8000", "http://localhost:8000")
    cors_allow_credentials: bool = False
    log_level: str = "INFO"
    log_json: bool = True
    reference_max_bytes: int = 30 * 1024 * 1024
    reference_max_seconds: float = 180.0
    token_max_bytes: int = 10 * 1024 * 1024
    token_max_seconds: float = 30.0
    script_max_bytes: int = 30 * 1024 * 1024
    script_max_seconds: float = 120.0
    min_recording_seconds: float = 0.3
    analysis_token_server_url: str = "http://127.0.0.1:8100"
    analysis_script_server_url: str = "http://127.0.0.1:8100"
    analysis_server_auth_token: str | None = None
    analysis_callback_url: str | None = None
    analysis_webhook_secrets: tuple[str, ...] = (DEV_WEBHOOK_SECRET,)
    analysis_dispatch_max_attempts: int = 8
    analysis_dispatch_timeout_seconds: float = 10.0
    # How long a relay owns a claimed outbox row; longer than a dispatch, or a slow one is sent twice.
    analysis_relay_lease_seconds: float = 30.0
    token_deadline_seconds: int = 120
    script_deadline_seconds: int = 600
    sse_heartbeat_seconds: float = 15.0
    # Operations: metrics and rate limits (README, "Operations").
    metrics_token: str | None = None
    worker_metrics_port: int = 9100
    upload_rate_limit: Rate | None = Rate(30, 60)
    login_rate_limit_per_account: Rate | None = Rate(10, 60)
    login_rate_limit_per_address: Rate | None = Rate(10, 60)
    sign_up_rate_limit_per_address: Rate | None = Rate(10, 3600)
    # A header the platform's proxy sets to the client address and clients cannot forge (Fly-Client-IP on
    # Fly.io); unset, the address is the connection's peer (after X-Forwarded-For from trusted proxies).
    client_ip_header: str | None = None
    # Peers whose X-Forwarded-For / X-Forwarded-Proto uvicorn believes (addresses or networks); empty:
    # nobody's, so a client cannot pick the address its rate limits are counted against.
    trusted_proxies: tuple[str, ...] = ()

    @property
    def callback_url(self) -> str:
        return self.analysis_callback_url or f"{self.public_base_url}/webhooks/analysis"

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = cls()
        try:
            settings = cls(
                environment=env.get("APP_ENV", defaults.environment).strip().lower(),
                database_url=normalise_database_url(env.get("DATABASE_URL", defaults.database_url)),
                database_pool_size=int(env.get("DATABASE_POOL_SIZE", defaults.database_pool_size)),
                redis_url=env.get("REDIS_URL", defaults.redis_url),
                queue_name=env.get("SAQ_QUEUE_NAME", defaults.queue_name).strip() or defaults.queue_name,
                secret_key=env.get("SECRET_KEY", defaults.secret_key),
                access_token_ttl_seconds=int(
                    env.get("ACCESS_TOKEN_TTL_SECONDS", defaults.access_token_ttl_seconds)
                ),
                public_base_url=env.get("PUBLIC_BASE_URL", defaults.public_base_url).rstrip("/"),
                storage_backend=env.get("STORAGE_BACKEND", defaults.storage_backend).strip().lower(),
                local_storage_dir=Path(env.get("LOCAL_STORAGE_DIR", str(defaults.local_storage_dir))),
                storage_url_secret=env.get("STORAGE_URL_SECRET", defaults.storage_url_secret),
                s3=S3Settings(
                    # BUCKET_NAME and AWS_ENDPOINT_URL_S3 are what `fly storage create` (Tigris) sets.
                    bucket=env.get("S3_BUCKET") or env.get("BUCKET_NAME") or defaults.s3.bucket,
                    region=env.get("S3_REGION", defaults.s3.region),
                    endpoint_url=env.get("S3_ENDPOINT_URL") or env.get("AWS_ENDPOINT_URL_S3") or None,
                    public_endpoint_url=env.get("S3_PUBLIC_ENDPOINT_URL") or None,
                    access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
                    secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
                    addressing_style=env.get("S3_ADDRESSING_STYLE", defaults.s3.addressing_style),
                ),
                cors_allowed_origins=_list(env["CORS_ALLOWED_ORIGINS"])
                if "CORS_ALLOWED_ORIGINS" in env
                else defaults.cors_allowed_origins,
                cors_allow_credentials=_bool(env.get("CORS_ALLOW_CREDENTIALS", "false")),
                log_level=env.get("LOG_LEVEL", defaults.log_level).upper(),
                log_json=_bool(env.get("LOG_JSON", "true")),
                reference_max_bytes=int(env.get("REFERENCE_AUDIO_MAX_BYTES", defaults.reference_max_bytes)),
                reference_max_seconds=float(
                    env.get("REFERENCE_AUDIO_MAX_SECONDS", defaults.reference_max_seconds)
                ),
                analysis_token_server_url=env.get(
                    "ANALYSIS_TOKEN_SERVER_URL", defaults.analysis_token_server_url
                ).rstrip("/"),
                analysis_script_server_url=env.get(
                    "ANALYSIS_SCRIPT_SERVER_URL", defaults.analysis_script_server_url
                ).rstrip("/"),
                analysis_server_auth_token=env.get("ANALYSIS_SERVER_AUTH_TOKEN") or None,
                analysis_callback_url=env.get("ANALYSIS_CALLBACK_URL") or None,
                analysis_webhook_secrets=_list(env["ANALYSIS_WEBHOOK_SECRETS"])
                if env.get("ANALYSIS_WEBHOOK_SECRETS")
                else defaults.analysis_webhook_secrets,
                analysis_dispatch_max_attempts=int(
                    env.get("ANALYSIS_DISPATCH_MAX_ATTEMPTS", defaults.analysis_dispatch_max_attempts)
                ),
                analysis_dispatch_timeout_seconds=float(
                    env.get("ANALYSIS_DISPATCH_TIMEOUT_SECONDS", defaults.analysis_dispatch_timeout_seconds)
                ),
                analysis_relay_lease_seconds=float(
                    env.get("ANALYSIS_RELAY_LEASE_SECONDS", defaults.analysis_relay_lease_seconds)
                ),
                token_deadline_seconds=int(
                    env.get("TOKEN_ANALYSIS_DEADLINE_SECONDS", defaults.token_deadline_seconds)
                ),
                script_deadline_seconds=int(
                    env.get("SCRIPT_ANALYSIS_DEADLINE_SECONDS", defaults.script_deadline_seconds)
                ),
                sse_heartbeat_seconds=float(env.get("SSE_HEARTBEAT_SECONDS", defaults.sse_heartbeat_seconds)),
                metrics_token=env.get("METRICS_TOKEN") or None,
                worker_metrics_port=int(env.get("WORKER_METRICS_PORT", defaults.worker_metrics_port)),
                upload_rate_limit=_rate(env, "UPLOAD_RATE_LIMIT", defaults.upload_rate_limit),
                login_rate_limit_per_account=_rate(
                    env, "LOGIN_RATE_LIMIT_PER_ACCOUNT", defaults.login_rate_limit_per_account
                ),
                login_rate_limit_per_address=_rate(
                    env, "LOGIN_RATE_LIMIT_PER_ADDRESS", defaults.login_rate_limit_per_address
                ),
                sign_up_rate_limit_per_address=_rate(
                    env, "SIGN_UP_RATE_LIMIT_PER_ADDRESS", defaults.sign_up_rate_limit_per_address
                ),
                client_ip_header=env.get("CLIENT_IP_HEADER", "").strip() or None,
                trusted_proxies=tuple(
                    part.strip() for part in env.get("TRUSTED_PROXIES", "").split(",") if part.strip()
                ),
            )
        except ValueError as error:
            raise ConfigurationError(f"invalid configuration value: {error}") from error
        settings.validate(env)
        return settings

    def validate(self, env: Mapping[str, str]) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ConfigurationError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}")
        if self.storage_backend not in {"local", "s3"}:
            raise ConfigurationError("STORAGE_BACKEND must be 'local' or 's3'")
        if "*" in self.cors_allowed_origins and self.cors_allow_credentials:
            raise ConfigurationError(
                "CORS_ALLOWED_ORIGINS='*' cannot be combined with CORS_ALLOW_CREDENTIALS"
            )
        if self.analysis_relay_lease_seconds <= self.analysis_dispatch_timeout_seconds:
            raise ConfigurationError(
                "ANALYSIS_RELAY_LEASE_SECONDS must exceed ANALYSIS_DISPATCH_TIMEOUT_SECONDS"
            )
        if not 0 <= self.worker_metrics_port <= 65535:
            raise ConfigurationError("WORKER_METRICS_PORT must be a port number (0 turns it off)")
        if self.metrics_token is not None and len(self.metrics_token) < MIN_SECRET_LENGTH:
            raise ConfigurationError(f"METRICS_TOKEN must be at least {MIN_SECRET_LENGTH} characters")
        if self.is_production:
            self._refuse_dev_secrets(env)

    def _refuse_dev_secrets(self, env: Mapping[str, str]) -> None:
        required = {"SECRET_KEY": DEV_SECRET_KEY, "DATABASE_URL": None, "REDIS_URL": None}
        if self.storage_backend == "local":
            required["STORAGE_URL_SECRET"] = DEV_STORAGE_URL_SECRET
        secrets = env.get("ANALYSIS_WEBHOOK_SECRETS", "")
        if not secrets or DEV_WEBHOOK_SECRET in _list(secrets):
            raise ConfigurationError("ANALYSIS_WEBHOOK_SECRETS must be set, without the development secret")
        for name, dev_value in required.items():
            value = env.get(name, "")
            if not value:
                raise ConfigurationError(f"{name} must be set when APP_ENV=production")
            if dev_value is not None and (value == dev_value or len(value) < MIN_SECRET_LENGTH):
                raise ConfigurationError(
                    f"{name} is a development default or shorter than {MIN_SECRET_LENGTH} characters"
                )
