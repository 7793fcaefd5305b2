"""The real worker process (``uv run voicepractice worker``) killed, restarted and cut off, losing no job.

Real Postgres and Redis, the stub analysis server over HTTP; uploads go through the real use case.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import text

from domain.analysis.jobs import FailureCode, JobStatus
from domain.catalog import ReferenceKind
from entrypoints.bootstrap import Container
from entrypoints.settings import Settings
from tests.support.full_system import free_port
from tests.support.pipeline import Catalog, dispatch_counts, eventually, load_job, statuses, token_job
from tests.support.processes import ServiceProcess, api_process, worker_process
from tests.support.recordings import tone
from tests.support.stub_analysis_server import StubAnalysisServer

pytestmark = pytest.mark.slow

# Short enough for a killed worker's rows to come back quickly, longer than a dispatch may take.
LEASE_SECONDS = 3
DISPATCH_TIMEOUT_SECONDS = 2
DEAD_REDIS_URL = "redis://127.0.0.1:1/0"
MAX_BURST_UPLOADS = 80


@pytest.fixture
def process_env(settings: Settings, stub: StubAnalysisServer) -> dict[str, str]:
    return {
        "APP_ENV": "test",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "LOCAL_STORAGE_DIR": str(settings.local_storage_dir),
        "ANALYSIS_TOKEN_SERVER_URL": stub.url,
        "ANALYSIS_SCRIPT_SERVER_URL": stub.url,
        "ANALYSIS_DISPATCH_TIMEOUT_SECONDS": str(DISPATCH_TIMEOUT_SECONDS),
        "ANALYSIS_RELAY_LEASE_SECONDS": str(LEASE_SECONDS),
        "WORKER_SHUTDOWN_GRACE_SECONDS": "10",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
    }


@pytest.fixture
def processes() -> Iterator[list[ServiceProcess]]:
    """Every process a test starts is killed afterwards, whatever happened."""
    started: list[ServiceProcess] = []
    yield started
    for process in started:
        process.kill()


@pytest.fixture
async def worker(
    process_env: dict[str, str], tmp_path: Path, processes: list[ServiceProcess]
) -> ServiceProcess:
    process = worker_process(process_env, tmp_path / "logs")
    processes.append(process)
    await asyncio.to_thread(process.start)
    return process


async def _restart(process: ServiceProcess) -> None:
    await asyncio.to_thread(process.start)


Upload = Callable[[], Awaitable[UUID]]


@pytest.fixture
def upload(container: Container, catalog: Catalog) -> Upload:
    wav = tone(1.0)

    async def send() -> UUID:
        job = await container.uploads.upload(catalog.user, ReferenceKind.TOKEN, catalog.token_id, wav)
        return job.id

    return send


async def _all_dispatched(container: Container, job_ids: list[UUID], within: float) -> None:
    async def dispatched() -> bool:
        return all(s is not JobStatus.QUEUED for s in (await statuses(container, job_ids)).values())

    await eventually(dispatched, within=within, interval=0.2, what="dispatching every job")


async def _wait_for_failed_attempts(container: Container, job_ids: list[UUID], attempts: int) -> None:
    """Until every job's outbox row was tried (and failed) ``attempts`` times."""
    query = text("SELECT count(*) FROM outbox WHERE job_id = ANY(:ids) AND attempts >= :attempts")

    async def tried() -> bool:
        async with container.engine.connect() as connection:
            count = await connection.scalar(query, {"ids": job_ids, "attempts": attempts})
        return count == len(job_ids)

    await eventually(tried, within=15, interval=0.2, what=f"{attempts} attempts per job")


async def test_a_worker_killed_between_sending_and_marking_loses_no_job(
    container: Container, upload: Upload, stub: StubAnalysisServer, worker: ServiceProcess
) -> None:
    stub.respond_after(30)  # hold every request, so the kill lands while the worker awaits the answer
    job_ids = [await upload() for _ in range(5)]

    async def all_received() -> bool:
        return all(stub.deliveries(job_id) for job_id in job_ids)

    await eventually(all_received, within=10, what="the stub receiving every request")
    worker.kill()
    assert set((await statuses(container, job_ids)).values()) == {JobStatus.QUEUED}

    stub.respond_after(0)
    await _restart(worker)
    await _all_dispatched(container, job_ids, within=20)

    # At least once on the wire (the killed send and its retry), exactly once in the job's history.
    assert min(stub.deliveries(job_id) for job_id in job_ids) >= 2
    assert await dispatch_counts(container, job_ids) == dict.fromkeys(job_ids, 1)


async def test_repeated_kills_during_a_burst_of_uploads_leave_every_job_dispatched_once(
    container: Container, upload: Upload, stub: StubAnalysisServer, worker: ServiceProcess
) -> None:
    stub.respond_after(0.3)
    job_ids: list[UUID] = []
    kills_done = asyncio.Event()

    async def keep_uploading() -> None:
        while not kills_done.is_set() and len(job_ids) < MAX_BURST_UPLOADS:
            job_ids.append(await upload())
            await asyncio.sleep(0.2)

    uploader = asyncio.create_task(keep_uploading())
    for _ in range(3):
        await asyncio.sleep(0.7)
        worker.kill()
        await _restart(worker)
    kills_done.set()
    await uploader
    await _all_dispatched(container, job_ids, within=30)

    assert await dispatch_counts(container, job_ids) == dict.fromkeys(job_ids, 1)


async def test_jobs_queued_while_the_analysis_server_is_down_are_dispatched_after_it_returns(
    container: Container, upload: Upload, stub: StubAnalysisServer, worker: ServiceProcess
) -> None:
    stub.stop()
    job_ids = [await upload() for _ in range(5)]
    await _wait_for_failed_attempts(container, job_ids, attempts=2)
    stub.start()

    await _all_dispatched(container, job_ids, within=20)
    assert set((await statuses(container, job_ids)).values()) == {JobStatus.DISPATCHED}


async def test_jobs_queued_while_the_analysis_server_is_down_complete_after_it_returns(
    container: Container,
    upload: Upload,
    stub: StubAnalysisServer,
    process_env: dict[str, str],
    tmp_path: Path,
    processes: list[ServiceProcess],
) -> None:
    port = free_port()
    env = {**process_env, "ANALYSIS_CALLBACK_URL": f"http://127.0.0.1:{port}/webhooks/analysis"}
    api, worker = api_process(env, tmp_path / "logs", port), worker_process(env, tmp_path / "logs")
    processes.extend([api, worker])
    await asyncio.gather(asyncio.to_thread(api.start), asyncio.to_thread(worker.start))
    stub.send_webhooks()
    stub.stop()
    job_ids = [await upload() for _ in range(5)]
    await _wait_for_failed_attempts(container, job_ids, attempts=2)
    stub.start()

    async def completed() -> bool:
        return set((await statuses(container, job_ids)).values()) == {JobStatus.COMPLETED}

    await eventually(completed, within=30, interval=0.2, what="completing every job")


async def test_uploads_succeed_without_redis_and_the_sweep_relays_them(
    make_container: Callable[..., Awaitable[Container]],
    catalog: Catalog,
    stub: StubAnalysisServer,
    worker: ServiceProcess,
) -> None:
    api = await make_container(redis_url=DEAD_REDIS_URL)
    wav = tone(1.0)
    job_ids = [
        (await api.uploads.upload(catalog.user, ReferenceKind.TOKEN, catalog.token_id, wav)).id
        for _ in range(5)
    ]

    await _all_dispatched(api, job_ids, within=10)
    assert set((await statuses(api, job_ids)).values()) == {JobStatus.DISPATCHED}


async def test_a_worker_started_while_redis_is_down_starts_and_its_sweep_relays_from_postgres(
    make_container: Callable[..., Awaitable[Container]],
    catalog: Catalog,
    stub: StubAnalysisServer,
    process_env: dict[str, str],
    tmp_path: Path,
    processes: list[ServiceProcess],
) -> None:
    worker = worker_process({**process_env, "REDIS_URL": DEAD_REDIS_URL}, tmp_path / "logs")
    processes.append(worker)
    await asyncio.to_thread(worker.start)  # returns once the worker logged that it started
    api = await make_container(redis_url=DEAD_REDIS_URL)
    wav = tone(1.0)
    job_ids = [
        (await api.uploads.upload(catalog.user, ReferenceKind.TOKEN, catalog.token_id, wav)).id
        for _ in range(3)
    ]

    await _all_dispatched(api, job_ids, within=10)
    assert set((await statuses(api, job_ids)).values()) == {JobStatus.DISPATCHED}
    assert worker.running, worker.tail()


async def test_sigterm_lets_the_dispatch_in_flight_finish_before_the_worker_exits(
    container: Container, upload: Upload, stub: StubAnalysisServer, worker: ServiceProcess
) -> None:
    stub.respond_after(1.5)
    job_id = await upload()

    async def received() -> bool:
        return stub.deliveries(job_id) == 1

    await eventually(received, within=10, what="the stub receiving the request")
    worker.terminate()
    exit_code = await asyncio.to_thread(worker.wait, 20)

    assert exit_code == 0
    assert (await load_job(container, job_id)).status is JobStatus.DISPATCHED


async def test_the_worker_fails_overdue_jobs_on_its_schedule(
    container: Container, catalog: Catalog, worker: ServiceProcess
) -> None:
    now = datetime.now(UTC)
    job = token_job(catalog, now)
    job_id = job.id
    job.mark_dispatched(now, timedelta(seconds=-1))
    async with container.unit_of_work() as uow:
        await uow.jobs.add(job)
        await uow.commit()

    async def failed() -> bool:
        return (await load_job(container, job_id)).status is JobStatus.FAILED

    await eventually(failed, within=15, what="failing the overdue job")
    assert (await load_job(container, job_id)).failure_code == FailureCode.TIMED_OUT.value


DeliveredInWindow = Callable[..., Awaitable[tuple[ServiceProcess, list[UUID]]]]


@pytest.fixture
def delivered_in_window(
    upload: Upload,
    stub: StubAnalysisServer,
    process_env: dict[str, str],
    tmp_path: Path,
    processes: list[ServiceProcess],
) -> DeliveredInWindow:
    """A worker whose marks wait 30 s for company (under a tenth of a 400 s lease), and three jobs it
    delivered whose marks wait: time to act in between, however slowly a loaded machine uploads them.
    (The test's failures in CI came from a claim in progress cutting the window short, fixed in the
    relay; the long window only keeps the timing out of it.) A killed worker's rows come back at once
    all the same (their holder's lock goes with it)."""

    async def start(**extra_env: str) -> tuple[ServiceProcess, list[UUID]]:
        env = {
            **process_env,
            "ANALYSIS_RELAY_LEASE_SECONDS": "400",
            "ANALYSIS_RELAY_MARK_WINDOW_SECONDS": "30",
            **extra_env,
        }
        worker = worker_process(env, tmp_path / "logs")
        processes.append(worker)
        await asyncio.to_thread(worker.start)
        job_ids = [await upload() for _ in range(3)]

        async def all_received() -> bool:
            return all(stub.deliveries(job_id) == 1 for job_id in job_ids)

        await eventually(all_received, within=2, interval=0.05, what="the stub receiving every request")
        return worker, job_ids

    return start


async def test_a_worker_killed_while_its_marks_wait_in_their_window_loses_no_job(
    container: Container,
    stub: StubAnalysisServer,
    delivered_in_window: DeliveredInWindow,
    process_env: dict[str, str],
    tmp_path: Path,
    processes: list[ServiceProcess],
) -> None:
    worker, job_ids = await delivered_in_window()
    worker.kill()
    # Delivered, not marked: the rows are still unsent.
    assert set((await statuses(container, job_ids)).values()) == {JobStatus.QUEUED}

    # The next worker, with the default window, gets them at once (the killed one's lock went with it).
    restarted = worker_process(process_env, tmp_path / "restarted")
    processes.append(restarted)
    await asyncio.to_thread(restarted.start)
    await _all_dispatched(container, job_ids, within=20)

    assert min(stub.deliveries(job_id) for job_id in job_ids) >= 2
    assert await dispatch_counts(container, job_ids) == dict.fromkeys(job_ids, 1)


async def test_sigterm_marks_the_rows_whose_marks_wait_in_their_window(
    container: Container, delivered_in_window: DeliveredInWindow
) -> None:
    # A grace shorter than the window: without the flush at shutdown the marks would be cut off.
    worker, job_ids = await delivered_in_window(WORKER_SHUTDOWN_GRACE_SECONDS="1")
    worker.terminate()
    exit_code = await asyncio.to_thread(worker.wait, 20)

    assert exit_code == 0
    assert set((await statuses(container, job_ids)).values()) == {JobStatus.DISPATCHED}
    assert await dispatch_counts(container, job_ids) == dict.fromkeys(job_ids, 1)
