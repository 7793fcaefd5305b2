"""The SAQ worker process: relays the outbox to the analysis servers and runs the housekeeping.

Start it with ``voicepractice worker``; run as many as you like, row leases keep them apart.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Annotated
from uuid import UUID

import structlog
from msgspec import Meta
from saq import CronJob, Worker
from saq.types import Context

from adapters.outages import unavailable_dependency
from adapters.queue.relay_wakeups import RedisRelayWakeups, WakeupSubscription
from adapters.queue.saq_relay import RELAY_FUNCTION
from application.analysis.maintenance import Housekeeping
from application.analysis.relay import OutboxRelay, RelayOutcome
from application.analysis.resumable import ResumableUploads
from entrypoints.bootstrap import Container, build_container
from entrypoints.logging import configure_logging
from entrypoints.observability import start_tracing_if_on
from entrypoints.settings import Settings
from entrypoints.worker_metrics import WorkerMetrics, WorkerMetricsServer
from shared_kernel.settings import load, variable

logger = structlog.get_logger(__name__)

ORPHANED_RECORDINGS_CRON = "*/10 * * * *"
PRUNE_CRON = "0 * * * *"
OVERDUE_CHECK_SECONDS = 5.0
OVERDUE_BATCH_SIZE = 100
# Rows are leased when claimed; a batch larger than the relay's parallelism would queue behind it and
# could outlive its lease while waiting.
SWEEP_BATCH_SIZE = 16
WORKER_SERVICE_NAME = "voice-practice-worker"
# SAQ's housekeeping loops sleep this long between rounds, and a stopping worker waits for them.
UPKEEP_SECONDS = 5
# Failing rounds (Postgres down) are retried after the interval doubled per failure, up to this.
MAX_FAILURE_BACKOFF_SECONDS = 10.0
# How often the wake-up loop looks at its stop signal while no wake-up arrives.
WAKEUP_POLL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    concurrency: Annotated[int, Meta(ge=1)] = variable(
        "WORKER_CONCURRENCY", "SAQ jobs a worker runs at once", default=10
    )
    sweep_interval_seconds: Annotated[float, Meta(gt=0)] = variable(
        "WORKER_SWEEP_INTERVAL_SECONDS",
        "how often the worker sweeps the outbox for rows the fast path missed",
        default=1.0,
    )
    shutdown_grace_seconds: Annotated[int, Meta(ge=0)] = variable(
        "WORKER_SHUTDOWN_GRACE_SECONDS", "how long a stopping worker lets running jobs finish", default=20
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WorkerSettings:
        return load(cls, env)


Step = Callable[[], Awaitable[bool]]


class PeriodicTask:
    """A step run every interval as a task of the worker, and at once again while it reports a backlog.

    A failing step is logged and tried again after a wait that doubles while it keeps failing. The outbox sweep and the overdue check run this way rather than as SAQ cron jobs, because they
    must keep time and need only Postgres. SAQ polls its schedule once a second and skips a unique
    cron job while its previous run is pending, so an every-second cron job runs every other second
    (measured); a cron job stalls while Redis is unreachable, which is when the fast path fails and
    the sweep matters most; and a cron job that was running in a SIGKILLed worker blocks its key until
    SAQ's own sweep aborts it, after the job's timeout, one stale job at a time.
    """

    def __init__(
        self, name: str, step: Step, interval_seconds: float, stopping: asyncio.Event | None = None
    ) -> None:
        self.name = name
        self._step = step
        self._interval = interval_seconds
        self._stopping = stopping if stopping is not None else asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self, grace_seconds: float) -> None:
        """Let the round in progress finish; cut short, its claimed rows wait out their lease."""
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
        failures = 0
        while not self._stopping.is_set():
            try:
                backlog = await self._step()
                failures = 0
            except Exception as error:
                failures += 1
                backlog = False
                self._log_failure(error, failures)
            if backlog:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._wait_seconds(failures))

    def _wait_seconds(self, failures: int) -> float:
        """The interval, doubled per consecutive failure up to MAX_FAILURE_BACKOFF_SECONDS (or the
        interval, when that is longer)."""
        backoff: float = self._interval * 2.0**failures
        return min(backoff, max(self._interval, MAX_FAILURE_BACKOFF_SECONDS))

    def _log_failure(self, error: Exception, failures: int) -> None:
        dependency = unavailable_dependency(error)
        if dependency is None:
            logger.exception("periodic task failed", task=self.name)
        else:
            retry_in = round(self._wait_seconds(failures), 2)
            logger.warning(
                "periodic task waits for a dependency",
                task=self.name,
                dependency=dependency,
                retry_in=retry_in,
            )


def outbox_sweep(
    relay: OutboxRelay, batch_size: int = SWEEP_BATCH_SIZE, metrics: WorkerMetrics | None = None
) -> Step:
    """Relay the due outbox rows the fast path missed; a full batch means more are waiting."""

    async def sweep() -> bool:
        outcomes = await relay.sweep(batch_size)
        if metrics is not None:
            metrics.record_relay(outcomes, source="sweep")
        if outcomes:
            logger.info("outbox swept", **Counter(item.outcome for item in outcomes))
        return len(outcomes) >= batch_size

    return sweep


def overdue_check(
    housekeeping: Housekeeping, resumable: ResumableUploads, batch_size: int = OVERDUE_BATCH_SIZE
) -> Step:
    """Fail the jobs past their deadline, then abort the multipart uploads of jobs that ended."""

    async def check() -> bool:
        failed = await housekeeping.fail_overdue_jobs(batch_size)
        if failed:
            logger.info("overdue jobs failed", count=failed)
        removed = await resumable.remove_finished(batch_size)
        return failed >= batch_size or removed >= batch_size

    return check


class RelayWakeLoop:
    """The relay's fast path: a wake-up (a committed outbox row, adapters.queue.relay_wakeups) makes
    the worker claim the due rows, as many as it has free slots, in one statement. Wake-ups arriving
    while a claim runs are served by the next claim, so a burst of uploads is claimed in batches; the
    next claim starts once the previous one committed, not once its rows were delivered.

    While Redis is unreachable no wake-up arrives and the sweep relays every row a sweep interval
    late; the subscription is tried again with a doubling wait.
    """

    def __init__(
        self,
        relay: OutboxRelay,
        wakeups: RedisRelayWakeups,
        stopping: asyncio.Event,
        batch_size: int = SWEEP_BATCH_SIZE,
        metrics: WorkerMetrics | None = None,
        poll_seconds: float = WAKEUP_POLL_SECONDS,
    ) -> None:
        self._relay = relay
        self._wakeups = wakeups
        self._stopping = stopping
        self._batch_size = batch_size
        self._metrics = metrics
        self._poll = poll_seconds
        self._task: asyncio.Task[None] | None = None
        self._rounds: set[asyncio.Future[list[RelayOutcome]]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-wakeups")

    async def stop(self, grace_seconds: float) -> None:
        """Claim nothing more; let the rows claimed finish within the grace (cut short, they wait out
        their leases)."""
        self._stopping.set()
        if self._task is not None:
            # It notices the stop within a poll; a claim in progress finishes rather than being cut.
            await asyncio.wait({self._task}, timeout=grace_seconds)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._rounds:
            await asyncio.wait(self._rounds, timeout=grace_seconds)

    async def _run(self) -> None:
        failures = 0
        subscription: WakeupSubscription | None = None
        try:
            while not self._stopping.is_set():
                try:
                    if subscription is None:
                        subscription = await self._wakeups.subscribe()
                    await self._claim_while_due(subscription)
                    failures = 0
                except Exception as error:
                    failures += 1
                    if subscription is not None and subscription.lost:
                        subscription.close()
                        subscription = None  # subscribed again on a new connection
                    wait = min(self._poll * 2.0**failures, MAX_FAILURE_BACKOFF_SECONDS)
                    logger.warning(
                        "relay wake-ups wait for a dependency",
                        dependency=unavailable_dependency(error) or type(error).__name__,
                        retry_in=wait,
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), wait)
        finally:
            if subscription is not None:
                subscription.close()

    async def _claim_while_due(self, subscription: WakeupSubscription) -> None:
        """Wait for a wake-up, then claim; after a full batch, claim again at once."""
        if not await subscription.wait(self._poll):
            return
        while not self._stopping.is_set():
            batch = await self._relay.dispatch_due(self._batch_size)
            self._rounds.add(batch.outcomes)
            batch.outcomes.add_done_callback(self._settled)
            if batch.claimed < self._batch_size:
                return

    def _settled(self, outcomes: asyncio.Future[list[RelayOutcome]]) -> None:
        self._rounds.discard(outcomes)
        if outcomes.cancelled():
            return
        error = outcomes.exception()
        if error is not None:
            logger.warning(
                "relaying claimed rows failed; they are retried when their leases end", exc_info=error
            )
        elif self._metrics is not None:
            self._metrics.record_relay(outcomes.result(), source="fast_path")


class WorkerContext(Context, total=False):
    container: Container
    periodic: list[PeriodicTask]
    wakeups: RelayWakeLoop
    metrics: WorkerMetrics


def _container(ctx: WorkerContext) -> Container:
    return ctx["container"]


async def relay_outbox_message(ctx: WorkerContext, *, outbox_id: str) -> str:
    """Relay one outbox row: the job an API before the wake-ups enqueued per upload."""
    outcome = await _container(ctx).relay.relay(UUID(outbox_id))
    ctx["metrics"].record_relay([outcome], source="fast_path")
    return outcome.outcome


async def remove_orphaned_recordings(ctx: WorkerContext) -> int:
    return await _container(ctx).housekeeping.remove_orphaned_recordings()


async def prune(ctx: WorkerContext) -> dict[str, int]:
    return asdict(await _container(ctx).housekeeping.prune())


def build_worker(container: Container, options: WorkerSettings) -> Worker[WorkerContext]:
    metrics = WorkerMetrics()
    metrics_server = WorkerMetricsServer(
        metrics.registry, container.settings.worker_metrics_port, container.settings.worker_metrics_host
    )

    async def startup(ctx: WorkerContext) -> None:
        ctx["container"] = container
        ctx["metrics"] = metrics
        container.dispatcher.start()  # the HTTP client imported now, not at the first job
        metrics_server.start()
        # Sharing SAQ's stop event, they start nothing new once the worker is asked to stop.
        stopping = ctx["worker"].event
        periodic = [
            PeriodicTask(
                "outbox-sweep",
                outbox_sweep(container.relay, metrics=metrics),
                options.sweep_interval_seconds,
                stopping,
            ),
            PeriodicTask(
                "overdue-jobs",
                overdue_check(container.housekeeping, container.resumable_uploads),
                OVERDUE_CHECK_SECONDS,
                stopping,
            ),
        ]
        for task in periodic:
            task.start()
        ctx["periodic"] = periodic
        wakeups = RelayWakeLoop(container.relay, container.relay_wakeups, stopping, metrics=metrics)
        wakeups.start()
        ctx["wakeups"] = wakeups
        logger.info("worker started", concurrency=options.concurrency, queue=container.queue.name)

    async def shutdown(ctx: WorkerContext) -> None:
        # Rows delivered but not yet marked are marked now, and rows delivered while stopping at once.
        await container.relay.flush_marks()
        stopping = [task.stop(options.shutdown_grace_seconds) for task in ctx.get("periodic", [])]
        if "wakeups" in ctx:
            stopping.append(ctx["wakeups"].stop(options.shutdown_grace_seconds))
        await asyncio.gather(*stopping)
        metrics_server.stop()
        logger.info("worker stopped")

    return Worker(
        container.queue,
        functions=[(RELAY_FUNCTION, relay_outbox_message)],
        concurrency=options.concurrency,
        cron_jobs=[
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
    # No pre-ping per checkout: the worker's transactions retry or are retried (see create_engine).
    container = await build_container(settings)
    try:
        await container.queue.connect()
        await build_worker(container, options).start()
    finally:
        await container.close()


def start_worker(settings: Settings, options: WorkerSettings) -> None:
    """The ``voicepractice worker`` process: structured logs, then the worker until it is stopped."""
    configure_logging(settings.log_level, settings.log_format)
    start_tracing_if_on(settings.tracing, WORKER_SERVICE_NAME)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(run_worker(settings, options))


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when it is installed (it comes with uvicorn[standard]): less CPU per socket round trip,
    which is most of what the relay does. asyncio's own loop otherwise."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
