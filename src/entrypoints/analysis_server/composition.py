"""Builds the analysis server from its settings: the only place its adapters are constructed."""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

import httpx

from adapters.reference_analysis.decoder import PyAvSignalDecoder
from adapters.reference_analysis.destinations import DestinationGuard, DestinationPolicy, GuardedTransport
from adapters.reference_analysis.downloads import HttpAudioFetcher
from adapters.reference_analysis.process_runner import ProcessPoolRunner
from adapters.reference_analysis.webhook_sender import HttpWebhookSender, WebhookRetryPolicy
from adapters.system import SystemClock
from application.reference_analysis.analyse import AnalyseRecording, AnalysisLimits
from application.reference_analysis.intake import AnalysisIntake, IntakeSettings
from application.reference_analysis.reporting import Reporter
from entrypoints.analysis_server.settings import AnalysisServerSettings
from shared_kernel.webhooks import WebhookSigner

# Imported once by the fork server, so each analysis process starts with them loaded.
PRELOAD = (
    "numpy",
    "scipy.signal",
    "av",
    "domain.voice",
    "adapters.audio.decoding",
    "adapters.reference_analysis.decoder",
    "application.reference_analysis.audio_analysis",
)


@dataclass(slots=True)
class AnalysisServer:
    """The running parts; ``pool`` is None for an intake whose work needs no processes (tests)."""

    settings: AnalysisServerSettings
    intake: AnalysisIntake
    reporter: Reporter
    pool: ProcessPoolRunner | None
    clients: tuple[httpx.AsyncClient, ...]
    destinations: DestinationGuard

    async def start(self) -> None:
        if self.pool is not None:
            await self.pool.warm_up()
        self.intake.start()

    async def close(self) -> None:
        """Finish queued and running jobs and their webhooks within the grace period, then release all."""
        grace = self.settings.shutdown_grace_seconds
        deadline = time.monotonic() + grace
        # Most of the grace goes to the analyses; their last webhooks get what is left, at least a bit.
        await self.intake.stop(grace * 0.75)
        await self.reporter.drain(max(1.0, deadline - time.monotonic()))
        for client in self.clients:
            await client.aclose()
        if self.pool is not None:
            self.pool.close()


def destination_guard(settings: AnalysisServerSettings) -> DestinationGuard:
    networks = tuple(map(ipaddress.ip_network, settings.allowed_private_networks))
    return DestinationGuard(DestinationPolicy(settings.allowed_hosts, networks))


def build_analysis_server(settings: AnalysisServerSettings) -> AnalysisServer:
    clock = SystemClock()
    destinations = destination_guard(settings)
    downloads = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.download_timeout_seconds, connect=5.0),
        transport=GuardedTransport(
            destinations,
            httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=4 * settings.concurrency + 4)),
        ),
        follow_redirects=False,
    )
    webhooks = httpx.AsyncClient(
        timeout=httpx.Timeout(10.0, connect=5.0),
        transport=GuardedTransport(
            destinations, httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=50))
        ),
        follow_redirects=False,
    )
    pool = ProcessPoolRunner(settings.concurrency, PRELOAD)
    sender = HttpWebhookSender(
        webhooks,
        WebhookSigner(settings.webhook_secret),
        WebhookRetryPolicy(give_up_after_seconds=settings.webhook_give_up_seconds),
    )
    reporter = Reporter(sender, clock)
    analyse = AnalyseRecording(
        HttpAudioFetcher(
            downloads,
            timeout_seconds=settings.download_timeout_seconds,
            retry_seconds=settings.download_retry_seconds,
        ),
        PyAvSignalDecoder(),
        pool,
        reporter,
        clock,
        AnalysisLimits(settings.max_download_bytes, settings.max_audio_seconds),
    )
    intake = AnalysisIntake(
        analyse,
        IntakeSettings(
            concurrency=settings.concurrency,
            queue_size=settings.queue_size,
            remember_seconds=settings.remember_jobs_seconds,
        ),
    )
    return AnalysisServer(settings, intake, reporter, pool, (downloads, webhooks), destinations)
