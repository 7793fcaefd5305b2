"""The SAQ worker process: relays the outbox to the analysis servers and runs the housekeeping.

Start it with ``voicepractice worker``; run as many as you like, row leases keep them apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

import structlog
from saq import CronJob, Worker
from saq.types import Context

from adapters.queue.saq_relay import RELAY_FUNCTION
from application.analysis.relay import OutboxRelay
from entrypoints.bootstrap import Container, build_container
from entrypoints.logging import configure_logging
from entrypoints.settings import ConfigurationError, Settings

logger = structlog.get_logger(__name__)

# croniter reads a sixth field as seconds.
OVERDUE_JOBS_CRON = "* * * * * */5"
ORPHANED_RECORDINGS_CRON = "*/10 * * * *"
PRUNE_CRON = "0 * * * *"
# Rows are leased when claimed; a batch larger than the relay's parallelism would queue behind it and
# could outlive its lease while waiting.
SWEEP_BATCH_SIZE = 16
# SAQ's housekeeping loops sleep this long between rounds, and a stopping worker waits for them.
UPKEEP_SECONDS = 5


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    concurrency: int = 10
    sweep_interval_seconds: float = 1.0
    shutdown_grace_seconds: int = 20

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WorkerSettings:
        env = os.environ if env is None else env
        defaults = cls()
        try:
            settings = cls(
                concurrency=int(env.get("WORKER_CONCURRENCY", defaults.concurrency)),
                sweep_interval_seconds=float(
                    env.get("WORKER_SWEEP_INTERVAL_SECONDS", defaults.sweep_interval_seconds)
                ),
                shutdown_grace_seconds=int(
                    env.get("WORKER_SHUTDOWN_GRACE_SECONDS", defaults.shutdown_grace_seconds)
                ),
            )
        except ValueError as error:
            raise ConfigurationError(f"invalid worker setting: {error}") from error
        if settings.concurrency < 1:
            raise ConfigurationError("WORKER_CONCURRENCY must be at least 1")
        if settings.sweep_interval_seconds <= 0:
            raise ConfigurationError("WORKER_SWEEP_INTERVAL_SECONDS must be positive")
        if settings.shutdown_grace_seconds < 0:
            raise ConfigurationError("WORKER_SHUTDOWN_GRACE_SECONDS must not be negative")
        return settings


class OutboxSweeper:
    """The safety net of the relay: claims every due outbox row the fast path missed, once a second.

    It runs as a task of the worker rather than as a SAQ cron job. SAQ polls its schedule once a second
    and does not enqueue a unique cron job while the previous run is still pending, so a cron job set
    for every second runs every other second; and a cron job stops whenever Redis is unreachable,
    which is when the fast path fails and the sweep matters most. This loop needs only Postgres.
    """

    def __init__(
        self, relay: OutboxRelay, interval_seconds: float, batch_size: int = SWEEP_BATCH_SIZE
    ) -> None:
        self._relay = relay
        self._interval = interval_seconds
        self._batch_size = batch_size
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-sweep")

    async def stop(self, grace_seconds: float) -> None:
        """Let the sweep in progress finish (its rows are leased, so cutting it short only delays them)."""
        self._stopping.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace_seconds)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                outcomes = await self._relay.sweep(self._batch_size)
            except Exception:
                logger.exception("outbox sweep failed")
                outcomes = []
            if outcomes:
                counts: dict[str, int] = {}
                for item in outcomes:
                    counts[item.outcome] = counts.get(item.outcome, 0) + 1
                logger.info("outbox swept", **counts)
            if len(outcomes) >= self._batch_size:
                continue  # a backlog: take the next batch at once
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)


class WorkerContext(Context, total=False):
    container: Container
    sweeper: OutboxSweeper


def _container(ctx: WorkerContext) -> Container:
    return ctx["container"]


async def relay_outbox_message(ctx: WorkerContext, *, outbox_id: str) -> str:
    """The fast path: relay one outbox row as soon as the API committed it."""
    outcome = await _container(ctx).relay.relay(UUID(outbox_id))
    return outcome.outcome


async def fail_overdue_jobs(ctx: WorkerContext) -> int:
    return await _container(ctx).housekeeping.fail_overdue_jobs()


async def remove_orphaned_recordings(ctx: WorkerContext) -> int:
    return await _container(ctx).housekeeping.remove_orphaned_recordings()


async def prune(ctx: WorkerContext) -> dict[str, int]:
    outbox_rows, idempotency_keys = await _container(ctx).housekeeping.prune()
    return {"outbox_rows": outbox_rows, "idempotency_keys": idempotency_keys}


def build_worker(container: Container, options: WorkerSettings) -> Worker[WorkerContext]:
    async def startup(ctx: WorkerContext) -> None:
        ctx["container"] = container
        sweeper = OutboxSweeper(container.relay, options.sweep_interval_seconds)
        sweeper.start()
        ctx["sweeper"] = sweeper
        logger.info("worker started", concurrency=options.concurrency, queue=container.queue.name)

    async def shutdown(ctx: WorkerContext) -> None:
        sweeper = ctx.get("sweeper")
        if sweeper is not None:
            await sweeper.stop(options.shutdown_grace_seconds)
        logger.info("worker stopped")

    return Worker(
        container.queue,
        functions=[(RELAY_FUNCTION, relay_outbox_message)],
        concurrency=options.concurrency,
        cron_jobs=[
            CronJob(fail_overdue_jobs, cron=OVERDUE_JOBS_CRON, timeout=60),
            CronJob(remove_orphaned_recordings, cron=ORPHANED_RECORDINGS_CRON, timeout=600),
            CronJob(prune, cron=PRUNE_CRON, timeout=600),
        ],
        startup=startup,
        shutdown=shutdown,
        timers={"schedule": 1, "abort": 1, "worker_info": UPKEEP_SECONDS, "sweep": UPKEEP_SECONDS},
        # A finite dequeue wait lets idle job slots notice a stop request.
        dequeue_timeout=1.0,
        # On SIGTERM, jobs in flight get this long to finish; a SIGKILL loses nothing either, as every
        # claimed outbox row is leased in Postgres and retried when its lease ends.
        shutdown_grace_period_s=options.shutdown_grace_seconds,
    )


async def run_worker(settings: Settings, options: WorkerSettings) -> None:
    """Run until SIGINT or SIGTERM."""
    container = await build_container(settings)
    try:
        await container.queue.connect()
        await build_worker(container, options).start()
    finally:
        await container.close()


def start_worker(settings: Settings, options: WorkerSettings) -> None:
    """The ``voicepractice worker`` process: structured logs, then the worker until it is stopped."""
    configure_logging(settings.log_level, settings.log_json)
    asyncio.run(run_worker(settings, options))
