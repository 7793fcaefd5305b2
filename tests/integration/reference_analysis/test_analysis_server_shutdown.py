"""Stopping the analysis server: jobs under way finish, and no analysis process outlives the server."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.reference_analysis.conftest import AUTH_TOKEN, WEBHOOK_SECRET, Submit, final
from tests.support.api_double import ApiDouble
from tests.support.encoding import encode_audio
from tests.support.full_system import analysis_server_process, free_port
from tests.support.processes import ServiceProcess, group_gone, live_group_members
from tests.support.speech import Voice, synthesize

pytestmark = pytest.mark.slow

LINE = "Keep your eyes on the road and your hands upon the wheel."


def _leader(port: int) -> int:
    """The process ``uv run`` started (a group leader, see ServiceProcess) for the server on ``port``."""
    found = subprocess.run(
        ["pgrep", "-f", f"uv run .*analysis-server --port {port}$"], capture_output=True, text=True
    )
    return int(found.stdout.split()[0])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A server of the test's own: (base URL, process group)."""
    port = free_port()
    env = {
        "APP_ENV": "test",
        "ANALYSIS_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "ANALYSIS_SERVER_AUTH_TOKEN": AUTH_TOKEN,
        "ANALYSIS_SERVER_ALLOWED_HOSTS": "127.0.0.1",
        "ANALYSIS_SERVER_ALLOWED_PRIVATE_NETWORKS": "127.0.0.1/32",
    }
    process: ServiceProcess = analysis_server_process(env, tmp_path / "logs", port)
    process.start(timeout=120.0)
    leader = _leader(port)
    yield f"http://127.0.0.1:{port}", leader
    process.kill()
    for pid in live_group_members(leader):
        os.kill(int(pid), signal.SIGKILL)


def test_sigterm_to_the_process_group_leaves_no_process_behind(server: tuple[str, int]) -> None:
    _, leader = server

    os.killpg(leader, signal.SIGTERM)

    assert group_gone(leader, within=30.0), live_group_members(leader)


def test_a_killed_server_leaves_no_analysis_process_behind(server: tuple[str, int]) -> None:
    _, leader = server
    python = int(
        subprocess.run(["pgrep", "-P", str(leader)], capture_output=True, text=True).stdout.split()[0]
    )

    os.kill(python, signal.SIGKILL)

    assert group_gone(leader, within=10.0), live_group_members(leader)


def test_a_job_under_way_when_the_process_group_gets_sigterm_completes(
    server: tuple[str, int], submit: Submit, api_double: ApiDouble
) -> None:
    url, leader = server
    reference, take = synthesize(LINE, Voice("en-us")), synthesize(LINE, Voice("en-us+m3", rate=170))
    submission = submit(
        encode_audio(take.samples, take.sample_rate, "webm"),
        encode_audio(reference.samples, reference.sample_rate, "wav"),
        server_url=url,
    )
    assert submission.answer.status_code == 202

    os.killpg(leader, signal.SIGTERM)

    assert final(api_double.wait_until_finished(submission.job_id)).type == "analysis.completed"
