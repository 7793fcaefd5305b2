"""``python -m entrypoints``, as ``run-all`` starts its children: no runpy double-import warning, one
analysis server process whatever WEB_CONCURRENCY says, and nothing left behind when it stops."""

from __future__ import annotations

from pathlib import Path

from entrypoints.supervisor import child_command
from tests.support.full_system import free_port
from tests.support.processes import ServiceProcess, answers_health, group_gone


def test_analysis_server_started_as_run_all_does_runs_one_process_and_leaves_nothing_behind(
    tmp_path: Path,
) -> None:
    port = free_port()
    command = child_command("analysis-server", "--port", str(port))
    env = {
        "APP_ENV": "test",
        "ANALYSIS_SERVER_AUTH_TOKEN": "module-entrypoint-test-token-0123456789",
        "ANALYSIS_SERVER_CONCURRENCY": "1",
        "LOG_FORMAT": "json",
        # run-all, the Dockerfile and fly.toml set the API's process count for every process.
        "WEB_CONCURRENCY": "2",
    }
    process = ServiceProcess("analysis", command, env, tmp_path, answers_health(port))
    process.start(timeout=120.0)
    try:
        assert process.running
    finally:
        process.terminate()
        process.wait(30.0)
    # multiprocessing's resource tracker warns about what was left once the last process is gone.
    assert group_gone(process.pid, within=15.0)
    log = process.log()
    assert "started" in log
    assert "RuntimeWarning" not in log
    assert log.count("Started server process") == 1, log
    assert "leaked semaphore" not in log, log
