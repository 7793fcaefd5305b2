"""CPU work in the analysis server's process pool, with stages relayed back to the event loop."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures.process import BrokenProcessPool

import pytest

from adapters.reference_analysis.process_runner import ProcessPoolRunner


def _pid(on_stage: Callable[[str], None]) -> int:
    return os.getpid()


def _through_stages(on_stage: Callable[[str], None]) -> str:
    for stage in ("decoding", "features", "aligning", "scoring"):
        on_stage(stage)
    return "done"


def _die(on_stage: Callable[[str], None]) -> None:
    os._exit(1)


def _blas_threads(on_stage: Callable[[str], None]) -> str | None:
    return os.environ.get("OPENBLAS_NUM_THREADS")


@pytest.fixture
async def runner() -> AsyncIterator[ProcessPoolRunner]:
    pool = ProcessPoolRunner(1)
    await pool.warm_up()
    yield pool
    pool.close()


def _ignore(stage: str) -> None:
    return None


async def test_a_task_runs_in_another_process(runner: ProcessPoolRunner) -> None:
    assert await runner.run(_pid, _ignore) != os.getpid()


async def test_every_stage_reaches_the_event_loop_before_the_result(runner: ProcessPoolRunner) -> None:
    stages: list[str] = []

    await runner.run(_through_stages, stages.append)

    assert stages == ["decoding", "features", "aligning", "scoring"]


async def test_a_process_that_dies_fails_its_task(runner: ProcessPoolRunner) -> None:
    with pytest.raises(BrokenProcessPool):
        await runner.run(_die, _ignore)


async def test_the_pool_runs_tasks_again_after_a_process_died(runner: ProcessPoolRunner) -> None:
    with pytest.raises(BrokenProcessPool):
        await runner.run(_die, _ignore)

    assert await runner.run(_through_stages, _ignore) == "done"


async def test_the_processes_run_single_threaded_blas(runner: ProcessPoolRunner) -> None:
    assert await runner.run(_blas_threads, _ignore) == "1"
