"""The API's and the worker's configuration; `voicepractice settings-docs` writes the README's tables from it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from msgspec import Meta

from shared_kernel.settings import (
    DEV_WEBHOOK_SECRET,
    MIN_SECRET_LENGTH,
    ConfigurationError,
    ProgramSettings,
    lowercase,
    parse_list,
    variable,
    without_trailing_slash,
)

__all__ = ["DEV_WEBHOOK_SECRET", "MIN_SECRET_LENGTH", "ConfigurationError", "Settings"]

DEV_SECRET_KEY = "dev-only-secret-key-do-not-use-in-production-0123456789"
DEV_STORAGE_URL_SECRET = "dev-only-storage-url-secret-do-not-use-in-production"


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


def normalise_database_url(url: str) -> str:
    """Accept the ``postgres://`` URLs hosting providers hand out and use the asyncpg driver."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url.removeprefix(prefix)
    return url


@dataclass(frozen=True, slots=True)
class S3Settings:
    bucket: str = variable(
        ("S3_BUCKET", "BUCKET_NAME"),
        "S3 bucket (`BUCKET_NAME` is what `fly storage create` sets)",
        default="voice-practice",
    )
    region: str = variable("S3_REGION", "S3 region", default="us-east-1")
    endpoint_url: str | None = variable(
        ("S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"), "S3-compatible endpoint (MinIO, Tigris, R2)", default=None
    )
    public_endpoint_url: str | None = variable(
        "S3_PUBLIC_ENDPOINT_URL",
        "the address presigned URLs are signed for when clients reach the store differently",
        default=None,
    )
    access_key_id: str | None = variable(
        "AWS_ACCESS_KEY_ID", "S3 credentials (else the usual AWS credential chain)", default=None
    )
    secret_access_key: str | None = variable("AWS_SECRET_ACCESS_KEY", "S3 credentials", default=None)
    addressing_style: str = variable("S3_ADDRESSING_STYLE", "`path` or `virtual`", default="path")


@dataclass(frozen=True, slots=True)
class Settings(ProgramSettings):
    """The API's and the worker's configuration (README, "Configuration")."""

    database_url: str = variable(
        "DATABASE_URL",
        "Postgres; `postgres://` URLs are accepted",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/voice_practice",
        parse=normalise_database_url,
    )
    database_pool_size: Annotated[int, Meta(ge=1)] = variable(
        "DATABASE_POOL_SIZE",
        "connections each process keeps open; (size + overflow) x processes must fit Postgres's "
        "`max_connections` (as many as UPLOAD_MAX_IN_FLIGHT: an upload holds one connection at a time, "
        "and a connection opened in overflow is closed again when returned)",
        default=16,
    )
    database_pool_overflow: Annotated[int, Meta(ge=0)] = variable(
        "DATABASE_POOL_OVERFLOW", "connections a process may open beyond the pool for a burst", default=4
    )
    database_pool_timeout_seconds: Annotated[float, Meta(gt=0)] = variable(
        "DATABASE_POOL_TIMEOUT_SECONDS",
        "how long a request waits for a free connection before it is answered 503 with `Retry-After`",
        default=3.0,
    )
    upload_max_in_flight: Annotated[int, Meta(ge=1)] = variable(
        "UPLOAD_MAX_IN_FLIGHT",
        "uploads one API process works on at once; one more waits up to `UPLOAD_ADMISSION_WAIT_SECONDS` for "
        "a slot, then is answered 503 `/problems/overloaded` with `Retry-After`, before its body is read",
        default=16,
    )
    upload_admission_wait_seconds: Annotated[float, Meta(ge=0)] = variable(
        "UPLOAD_ADMISSION_WAIT_SECONDS",
        "how long an upload that finds `UPLOAD_MAX_IN_FLIGHT` reached waits for a slot (first come, first "
        "served) before it is refused; 0 refuses at once",
        default=1.0,
    )
    redis_url: str = variable(
        "REDIS_URL", "SAQ queue and live job events", default="redis://127.0.0.1:6379/0"
    )
    queue_name: str = variable(
        "SAQ_QUEUE_NAME",
        "SAQ queue name; give deployments (or test runs) sharing one Redis database their own",
        default="voice-practice",
    )
    secret_key: str = variable(
        "SECRET_KEY",
        "signs access tokens (HS256); required in production",
        default=DEV_SECRET_KEY,
        shown_default="dev value",
    )
    access_token_ttl_seconds: Annotated[int, Meta(gt=0)] = variable(
        "ACCESS_TOKEN_TTL_SECONDS", "access token lifetime", default=3600
    )
    stream_ticket_ttl_seconds: Annotated[int, Meta(gt=0)] = variable(
        "STREAM_TICKET_TTL_SECONDS",
        "lifetime of the tickets (`?ticket=`) that open a job's event stream or the live feed without an "
        "Authorization header (the default outlives the longest analysis deadline); a stream opened with "
        "one ends at its first heartbeat after it expires",
        default=3600,
    )
    public_base_url: str = variable(
        "PUBLIC_BASE_URL",
        "how clients and analysis servers reach this API (signed storage URLs, webhook callback)",
        default="http://127.0.0.1:8000",
        parse=without_trailing_slash,
    )
    storage_backend: str = variable(
        "STORAGE_BACKEND",
        "`local` (files served by the API through signed URLs) or `s3`",
        default="local",
        parse=lowercase,
    )
    local_storage_dir: Path = variable(
        "LOCAL_STORAGE_DIR", "where the local store keeps objects", default=Path("var/storage")
    )
    storage_url_secret: str = variable(
        "STORAGE_URL_SECRET",
        "HMAC key of the local store's signed URLs; required in production with `local`",
        default=DEV_STORAGE_URL_SECRET,
        shown_default="dev value",
    )
    s3: S3Settings = field(default_factory=S3Settings)
    cors_allowed_origins: tuple[str, ...] = variable(
        "CORS_ALLOWED_ORIGINS",
        "comma-separated; `*` is refused together with credentials",
        default=("http://127.0.0.1:8000", "http://localhost:8000"),
        parse=parse_list,
    )
    cors_allow_credentials: bool = variable(
        "CORS_ALLOW_CREDENTIALS", "allow cookies/authorization from those origins", default=False
    )
    reference_max_bytes: Annotated[int, Meta(gt=0)] = variable(
        "REFERENCE_AUDIO_MAX_BYTES", "largest admin reference upload", default=30 * 1024 * 1024
    )
    reference_max_seconds: Annotated[float, Meta(gt=0)] = variable(
        "REFERENCE_AUDIO_MAX_SECONDS", "longest admin reference upload", default=180.0
    )
    token_max_bytes: Annotated[int, Meta(gt=0)] = variable(
        "TOKEN_UPLOAD_MAX_BYTES", "largest recording of a token", default=10 * 1024 * 1024
    )
    token_max_seconds: Annotated[float, Meta(gt=0)] = variable(
        "TOKEN_UPLOAD_MAX_SECONDS", "longest recording of a token", default=30.0
    )
    script_max_bytes: Annotated[int, Meta(gt=0)] = variable(
        "SCRIPT_UPLOAD_MAX_BYTES", "largest recording of a script", default=30 * 1024 * 1024
    )
    script_max_seconds: Annotated[float, Meta(gt=0)] = variable(
        "SCRIPT_UPLOAD_MAX_SECONDS", "longest recording of a script", default=120.0
    )
    min_recording_seconds: Annotated[float, Meta(ge=0)] = variable(
        "UPLOAD_MIN_SECONDS", "shortest accepted recording (tokens and scripts)", default=0.3
    )
    analysis_token_server_url: str = variable(
        "ANALYSIS_TOKEN_SERVER_URL",
        "the analysis server for tokens",
        default="http://127.0.0.1:8100",
        parse=without_trailing_slash,
    )
    analysis_script_server_url: str = variable(
        "ANALYSIS_SCRIPT_SERVER_URL",
        "the analysis server for scripts",
        default="http://127.0.0.1:8100",
        parse=without_trailing_slash,
    )
    analysis_callback_url: str | None = variable(
        "ANALYSIS_CALLBACK_URL",
        "where analysis servers send webhooks",
        default=None,
        shown_default="`$PUBLIC_BASE_URL/webhooks/analysis`",
    )
    analysis_dispatch_max_attempts: Annotated[int, Meta(ge=1)] = variable(
        "ANALYSIS_DISPATCH_MAX_ATTEMPTS", "relay attempts before a job fails", default=8
    )
    analysis_dispatch_timeout_seconds: Annotated[float, Meta(gt=0)] = variable(
        "ANALYSIS_DISPATCH_TIMEOUT_SECONDS", "timeout of one dispatch request", default=10.0
    )
    analysis_relay_lease_seconds: Annotated[float, Meta(gt=0)] = variable(
        "ANALYSIS_RELAY_LEASE_SECONDS",
        "how long a claimed outbox row is leased before another relay may retry it "
        "(longer than the dispatch timeout); a whole dispatch, request to answer, is given up at 80 % of it",
        default=30.0,
    )
    analysis_relay_mark_window_seconds: Annotated[float, Meta(ge=0)] = variable(
        "ANALYSIS_RELAY_MARK_WINDOW_SECONDS",
        "how long a delivered outbox row's mark waits for others to share its statement (`0`: none); "
        "under a tenth of the lease",
        default=0.2,
    )
    token_deadline_seconds: Annotated[int, Meta(gt=0)] = variable(
        "TOKEN_ANALYSIS_DEADLINE_SECONDS",
        "a dispatched token job with no final webhook by then fails as timed out",
        default=120,
    )
    script_deadline_seconds: Annotated[int, Meta(gt=0)] = variable(
        "SCRIPT_ANALYSIS_DEADLINE_SECONDS",
        "a dispatched script job with no final webhook by then fails as timed out",
        default=600,
    )
    sse_heartbeat_seconds: Annotated[float, Meta(gt=0)] = variable(
        "SSE_HEARTBEAT_SECONDS",
        "keep-alive interval on job event streams and on the live feed (`/v1/events`, `/v1/notifications`)",
        default=15.0,
    )
    feed_send_queue: Annotated[int, Meta(ge=1, le=100_000)] = variable(
        "FEED_SEND_QUEUE",
        "messages a live-feed connection may have waiting to be sent; a client that lets it stay full "
        "for `FEED_SEND_TIMEOUT_SECONDS` is disconnected (WebSocket close code 4408)",
        default=256,
    )
    feed_send_timeout_seconds: Annotated[float, Meta(gt=0)] = variable(
        "FEED_SEND_TIMEOUT_SECONDS",
        "how long a live-feed connection's full send queue may wait for the client before it is dropped",
        default=10.0,
    )
    metrics_token: str | None = variable(
        "METRICS_TOKEN",
        "when set (32+ characters), `GET /metrics` wants `Authorization: Bearer <token>`; "
        "required in production",
        default=None,
        table="operations",
    )
    worker_metrics_host: str = variable(
        "WORKER_METRICS_HOST",
        "the address a worker serves its metrics on; `::` (every interface, IPv4 too where it can) "
        "for a scraper on another machine",
        default="127.0.0.1",
        table="operations",
    )
    worker_metrics_port: int = variable(
        "WORKER_METRICS_PORT",
        "where a worker serves its metrics (`0` turns it off)",
        default=9100,
        table="operations",
    )
    catalog_cache_seconds: Annotated[float, Meta(gt=0)] = variable(
        "CATALOG_CACHE_SECONDS",
        "how long a catalog response stays in the shared Redis cache; writes drop it at once, so this "
        "only bounds a write Redis could not be told about",
        default=300.0,
        table="operations",
    )
    upload_rate_limit: Rate | None = variable(
        "UPLOAD_RATE_LIMIT",
        "uploads per user (`N/second`, `N/minute`, `N/hour`, `N/<seconds>s`; `off` turns it off)",
        default=Rate(30, 60),
        parse=parse_rate,
        shown_default="`30/minute`",
        table="operations",
    )
    login_rate_limit_per_account: Rate | None = variable(
        "LOGIN_RATE_LIMIT_PER_ACCOUNT",
        "log-in attempts per email",
        default=Rate(10, 60),
        parse=parse_rate,
        shown_default="`10/minute`",
        table="operations",
    )
    login_rate_limit_per_address: Rate | None = variable(
        "LOGIN_RATE_LIMIT_PER_ADDRESS",
        "log-in attempts per client address",
        default=Rate(10, 60),
        parse=parse_rate,
        shown_default="`10/minute`",
        table="operations",
    )
    sign_up_rate_limit_per_address: Rate | None = variable(
        "SIGN_UP_RATE_LIMIT_PER_ADDRESS",
        "sign-ups per client address",
        default=Rate(10, 3600),
        parse=parse_rate,
        shown_default="`10/hour`",
        table="operations",
    )
    client_ip_header: str | None = variable(
        "CLIENT_IP_HEADER",
        "header holding the client address set by the platform's proxy (`Fly-Client-IP` on Fly); "
        "unset, the connection's peer (after X-Forwarded-For from `TRUSTED_PROXIES` only)",
        default=None,
        table="operations",
    )
    trusted_proxies: tuple[str, ...] = variable(
        "TRUSTED_PROXIES",
        "comma-separated addresses or networks whose `X-Forwarded-For`/`-Proto` the API believes; "
        "unset, nobody's, so a client cannot pick the address its rate limits count against",
        default=(),
        parse=parse_list,
        shown_default="unset",
        table="operations",
    )

    serve_workers: Annotated[int, Meta(ge=1)] = variable(
        "WEB_CONCURRENCY",
        "API processes `voicepractice serve` runs (one per core; the deployment files set 2)",
        default=1,
    )
    serve_host: str = variable("HOST", "where `voicepractice serve` listens", default="127.0.0.1")
    serve_port: Annotated[int, Meta(ge=0, le=65535)] = variable(
        "PORT", "the port `voicepractice serve` listens on", default=8000
    )

    @property
    def callback_url(self) -> str:
        return self.analysis_callback_url or f"{self.public_base_url}/webhooks/analysis"

    def validate(self, env: Mapping[str, str]) -> None:
        super(Settings, self).validate(env)
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
        if self.analysis_relay_mark_window_seconds >= self.analysis_relay_lease_seconds / 10:
            raise ConfigurationError(
                "ANALYSIS_RELAY_MARK_WINDOW_SECONDS must be under a tenth of ANALYSIS_RELAY_LEASE_SECONDS"
            )
        if not 0 <= self.worker_metrics_port <= 65535:
            raise ConfigurationError("WORKER_METRICS_PORT must be a port number (0 turns it off)")
        if self.metrics_token is not None and len(self.metrics_token) < MIN_SECRET_LENGTH:
            raise ConfigurationError(f"METRICS_TOKEN must be at least {MIN_SECRET_LENGTH} characters")
        if self.is_production:
            self._refuse_dev_secrets(env)

    def _refuse_dev_secrets(self, env: Mapping[str, str]) -> None:
        # METRICS_TOKEN: /metrics is on the API's public port, and its figures tell a stranger too much.
        required = {
            "SECRET_KEY": DEV_SECRET_KEY,
            "DATABASE_URL": None,
            "REDIS_URL": None,
            "METRICS_TOKEN": None,
        }
        if self.storage_backend == "local":
            required["STORAGE_URL_SECRET"] = DEV_STORAGE_URL_SECRET
        secrets = env.get("ANALYSIS_WEBHOOK_SECRETS", "")
        if not secrets or DEV_WEBHOOK_SECRET in parse_list(secrets):
            raise ConfigurationError("ANALYSIS_WEBHOOK_SECRETS must be set, without the development secret")
        for name, dev_value in required.items():
            value = env.get(name, "")
            if not value:
                raise ConfigurationError(f"{name} must be set when APP_ENV=production")
            if dev_value is not None and (value == dev_value or len(value) < MIN_SECRET_LENGTH):
                raise ConfigurationError(
                    f"{name} is a development default or shorter than {MIN_SECRET_LENGTH} characters"
                )
