"""What each process imports to start: the API and the worker leave the analysis DSP stack, Alembic and
(on local storage) the S3 client unimported, which is most of what made them slow to start.

Each check runs in a fresh interpreter, as the process starts: `voicepractice serve` imports the CLI and
then builds the app; `voicepractice worker` imports the CLI and the worker module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# The analysis server's signal processing (scipy) and the voice code built on it, the analysis server
# itself, the migration tool and the S3 client: none is needed to answer a request on local storage.
NOT_AT_STARTUP = (
    "scipy",
    "domain.voice",
    "entrypoints.analysis_server",
    "adapters.reference_analysis",
    "alembic",
    "aioboto3",
)

API_STARTUP = "import entrypoints.cli; from entrypoints.http.app import app_from_env; app_from_env()"
WORKER_STARTUP = "import entrypoints.cli, entrypoints.worker"


def _imported_after(code: str) -> set[str]:
    env = {
        **os.environ,
        "STORAGE_BACKEND": "local",
        "DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none",
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    report = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", report], capture_output=True, text=True, env=env, timeout=120, check=True
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def _offending(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == name or m.startswith(name + ".") for name in NOT_AT_STARTUP))


@pytest.mark.parametrize("code", [API_STARTUP, WORKER_STARTUP], ids=["api", "worker"])
def test_a_starting_process_does_not_import_the_dsp_stack_alembic_or_s3(code: str) -> None:
    modules = _imported_after(code)

    assert "entrypoints.cli" in modules
    assert _offending(modules) == []


def test_the_check_sees_a_module_that_is_imported() -> None:
    modules = _imported_after("import entrypoints.cli, domain.voice")

    assert "scipy" in _offending(modules)
