"""``python -m entrypoints``, as ``run-all`` starts its children, runs without runpy's double-import warning."""

from __future__ import annotations

from pathlib import Path

from entrypoints.supervisor import child_command
from tests.support.full_system import free_port
from tests.support.processes import ServiceProcess, answers_health


def test_analysis_server_started_as_run_all_does_prints_no_runtime_warning(tmp_path: Path) -> None:
    port = free_port()
    command = child_command("analysis-server", "--port", str(port))
    env = {
        "APP_ENV": "test",
        "ANALYSIS_SERVER_AUTH_TOKEN": "module-entrypoint-test-token-0123456789",
        "ANALYSIS_SERVER_CONCURRENCY": "1",
        "LOG_FORMAT": "json",
    }
    process = ServiceProcess("analysis", command, env, tmp_path, answers_health(port))
    process.start(timeout=120.0)
    try:
        assert process.running
    finally:
        process.terminate()
        process.wait(30.0)
    assert "started" in process.log()
    assert "RuntimeWarning" not in process.log()
