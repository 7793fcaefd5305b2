"""Tunable figures of the pipeline, set by the composition root from configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from domain.analysis.outbox import RetryPolicy
from domain.audio import AudioLimits
from domain.catalog import ReferenceKind


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    token_limits: AudioLimits = field(default_factory=lambda: AudioLimits(10 * 1024 * 1024, 30.0))
    script_limits: AudioLimits = field(default_factory=lambda: AudioLimits(30 * 1024 * 1024, 120.0))
    callback_url: str = "http://127.0.0.1:8000/webhooks/analysis"
    presigned_url_ttl: timedelta = timedelta(hours=1)
    direct_upload_ttl: timedelta = timedelta(minutes=15)
    token_deadline: timedelta = timedelta(minutes=2)
    script_deadline: timedelta = timedelta(minutes=10)
    # A queued job not dispatched by then (the analysis servers refusing or unreachable for that
    # long, or no worker running) fails as timed out; an upload not submitted by then expires.
    queue_deadline: timedelta = timedelta(hours=1)
    upload_submit_grace: timedelta = timedelta(minutes=5)
    # A resumable upload survives lost connections for this long (part URLs are re-issued on request).
    multipart_upload_deadline: timedelta = timedelta(hours=2)
    # Clients upload recordings above this size resumably, in parts (GET /client-config tells them).
    resumable_upload_above_bytes: int = 5 * 1024 * 1024
    relay_lease: timedelta = timedelta(seconds=30)
    # A delivered row's mark waits this long for others to share its one statement (and the Redis
    # publish of their events); kept under a tenth of the lease, which leaves a fifth for the mark.
    relay_mark_window: timedelta = timedelta(milliseconds=200)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    outbox_retention: timedelta = timedelta(days=7)
    # Past the 5-minute signature tolerance and the reference server's 10-minute retry window, a
    # delivery of an id recorded this long ago is refused as stale before the inbox is asked.
    webhook_inbox_retention: timedelta = timedelta(hours=1)
    orphan_grace: timedelta = timedelta(hours=1)

    def limits(self, kind: ReferenceKind) -> AudioLimits:
        return {ReferenceKind.TOKEN: self.token_limits, ReferenceKind.SCRIPT: self.script_limits}[kind]

    @property
    def upload_deadline(self) -> timedelta:
        """How long a direct upload may wait: the PUT URL's lifetime and a little to submit."""
        return self.direct_upload_ttl + self.upload_submit_grace

    @property
    def dispatch_budget(self) -> timedelta:
        """The whole of one dispatch, request to answer (the HTTP client's timeouts are per phase). The rest of
        the lease records the outcome before another relay may claim the row."""
        return self.relay_lease * 0.8

    def deadline(self, kind: ReferenceKind) -> timedelta:
        return {ReferenceKind.TOKEN: self.token_deadline, ReferenceKind.SCRIPT: self.script_deadline}[kind]
