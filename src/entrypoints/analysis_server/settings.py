"""The analysis server's configuration (docs/reference-analysis-server.md, written from these fields)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from msgspec import Meta

from shared_kernel.settings import (
    DEV_WEBHOOK_SECRET,
    MIN_SECRET_LENGTH,
    ConfigurationError,
    ProgramSettings,
    parse_list,
    variable,
    webhook_secrets,
)

TABLE = "analysis-server"


def _one_webhook_secret(raw: str) -> str:
    found = webhook_secrets(raw)
    if len(found) != 1:
        raise ValueError("exactly one `whsec_...` secret signs the webhooks")
    return found[0]


def _networks(raw: str) -> tuple[str, ...]:
    """CIDR networks, each checked and written out whole (``127.0.0.1/8`` reads ``127.0.0.0/8``)."""
    return tuple(str(ipaddress.ip_network(item, strict=False)) for item in parse_list(raw))


@dataclass(frozen=True, slots=True)
class AnalysisServerSettings(ProgramSettings):
    concurrency: Annotated[int, Meta(ge=1)] = variable(
        "ANALYSIS_SERVER_CONCURRENCY",
        "jobs analysed at once, each in a process of its own",
        default=os.cpu_count() or 1,
        shown_default="CPU count",
        table=TABLE,
    )
    queue_size: Annotated[int, Meta(ge=1)] = variable(
        "ANALYSIS_SERVER_QUEUE_SIZE",
        "accepted jobs that may wait for a free process; beyond that, 429",
        default=32,
        table=TABLE,
    )
    own_webhook_secret: str | None = variable(
        "ANALYSIS_WEBHOOK_SECRET",
        "`whsec_...` secret the webhooks are signed with; unset, the first of `ANALYSIS_WEBHOOK_SECRETS` "
        "(so one machine running both needs it once); production refuses the development one",
        default=None,
        parse=_one_webhook_secret,
        table=TABLE,
    )
    allow_unauthenticated: bool = variable(
        "ANALYSIS_SERVER_ALLOW_UNAUTHENTICATED",
        "local development only: `true` lets the server run without `ANALYSIS_SERVER_AUTH_TOKEN`, "
        "answering anyone; refused in production",
        default=False,
        table=TABLE,
    )
    allowed_hosts: tuple[str, ...] = variable(
        "ANALYSIS_SERVER_ALLOWED_HOSTS",
        "comma-separated hosts (names or addresses; `*.example.com` for its subdomains) the server "
        "downloads from and posts webhooks to; a request naming any other is refused (422). "
        "`make run` allows its own API",
        default=(),
        parse=parse_list,
        shown_default="none",
        table=TABLE,
    )
    allowed_private_networks: tuple[str, ...] = variable(
        "ANALYSIS_SERVER_ALLOWED_PRIVATE_NETWORKS",
        "comma-separated networks (CIDR) an allowed host may be at although not public; without one, "
        "private, loopback and link-local addresses are refused. `make run` allows loopback",
        default=(),
        parse=_networks,
        shown_default="none",
        table=TABLE,
    )
    max_download_bytes: Annotated[int, Meta(gt=0)] = variable(
        "ANALYSIS_SERVER_MAX_DOWNLOAD_BYTES",
        "largest recording or reference downloaded",
        default=32 * 1024 * 1024,
        table=TABLE,
    )
    max_audio_seconds: Annotated[float, Meta(gt=0)] = variable(
        "ANALYSIS_SERVER_MAX_AUDIO_SECONDS", "longest audio decoded", default=180.0, table=TABLE
    )
    download_timeout_seconds: Annotated[float, Meta(gt=0)] = variable(
        "ANALYSIS_SERVER_DOWNLOAD_TIMEOUT_SECONDS",
        "one download try, request to last byte",
        default=30.0,
        table=TABLE,
    )
    download_retry_seconds: Annotated[float, Meta(ge=0)] = variable(
        "ANALYSIS_SERVER_DOWNLOAD_RETRY_SECONDS",
        "how long a download failing in a way another try may mend (storage unreachable, timeout, 5xx, "
        "429) is tried again, with backoff up to 5 s between tries, before the job fails as "
        "`download_failed`; `0` tries once",
        default=30.0,
        table=TABLE,
    )
    webhook_give_up_seconds: Annotated[float, Meta(gt=0)] = variable(
        "ANALYSIS_SERVER_WEBHOOK_GIVE_UP_SECONDS",
        "how long one webhook is retried before it is given up (logged)",
        default=600.0,
        table=TABLE,
    )
    remember_jobs_seconds: Annotated[float, Meta(gt=0)] = variable(
        "ANALYSIS_SERVER_REMEMBER_JOBS_SECONDS",
        "how long a job id is remembered for idempotency",
        default=3600.0,
        table=TABLE,
    )
    shutdown_grace_seconds: Annotated[float, Meta(ge=0)] = variable(
        "ANALYSIS_SERVER_SHUTDOWN_GRACE_SECONDS",
        "on SIGTERM: time for queued and running jobs and their webhooks",
        default=20.0,
        table=TABLE,
    )

    @property
    def auth_token(self) -> str | None:
        """The bearer token callers must present (ANALYSIS_SERVER_AUTH_TOKEN, shared with the API)."""
        return self.analysis_server_auth_token

    @property
    def webhook_secret(self) -> str:
        return self.own_webhook_secret or self.analysis_webhook_secrets[0]

    def validate(self, env: Mapping[str, str]) -> None:
        super(AnalysisServerSettings, self).validate(env)
        if not self.analysis_webhook_secrets:
            raise ConfigurationError("ANALYSIS_WEBHOOK_SECRETS is empty")
        # Whoever may call the server makes it fetch URLs and post to callbacks of their choosing.
        if self.auth_token is None and not self.allow_unauthenticated:
            raise ConfigurationError(
                "ANALYSIS_SERVER_AUTH_TOKEN is required (ANALYSIS_SERVER_ALLOW_UNAUTHENTICATED=true runs "
                "without one, for local development only)"
            )
        if self.is_production:
            if self.allow_unauthenticated:
                raise ConfigurationError(
                    "ANALYSIS_SERVER_ALLOW_UNAUTHENTICATED is refused when APP_ENV=production"
                )
            if self.webhook_secret == DEV_WEBHOOK_SECRET:
                raise ConfigurationError(
                    "ANALYSIS_WEBHOOK_SECRET (or ANALYSIS_WEBHOOK_SECRETS) must be set, not the development one"
                )
            if self.auth_token is None or len(self.auth_token) < MIN_SECRET_LENGTH:
                raise ConfigurationError(
                    f"ANALYSIS_SERVER_AUTH_TOKEN of at least {MIN_SECRET_LENGTH} characters is required "
                    "when APP_ENV=production"
                )
