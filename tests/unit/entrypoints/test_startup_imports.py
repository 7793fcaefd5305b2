"""What each process imports to start: the API and the worker leave the analysis DSP stack, Alembic and
(on local storage) the S3 client unimported, which is most of what made them slow to start; the worker
also leaves PyAV (it never decodes).

Each check runs in a fresh interpreter, as the process starts: `voicepractice serve` imports the CLI,
builds the app and, in its lifespan, the container; `voicepractice worker` imports the CLI and the worker
module and builds the container. Building the container matters: it reads the feature configuration's
version, which once imported the whole voice package (scipy) in every process.
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
    "domain.voice.analysis",
    "domain.voice.features",
    "domain.voice.framing",
    "entrypoints.analysis_server",
    "adapters.reference_analysis",
    "alembic",
    "aioboto3",
)

# Not needed by a worker, which never decodes audio and serves no HTTP app: PyAV, and the web framework
# (with what it brings: its OpenAPI support imports YAML, its plugins pydantic and attrs when installed).
NOT_AT_WORKER_STARTUP = ("av", "litestar", "yaml", "pydantic", "attrs")

# Not needed by the API, which never dispatches to the analysis servers: the dispatcher's HTTP client
# (aiohttp, with certifi's bundle for its TLS context) is imported by the worker as it starts.
NOT_AT_API_STARTUP = ("aiohttp", "certifi", "adapters.analysis.http_dispatcher")

# Built without connecting anywhere: the pools and clients connect on first use.
BUILD_CONTAINER = (
    "import asyncio; from entrypoints.bootstrap import build_container; "
    "from entrypoints.settings import Settings; asyncio.run(build_container(Settings.from_env()))"
)
API_STARTUP = f"import entrypoints.cli; from entrypoints.http.app import app_from_env; app_from_env(); {BUILD_CONTAINER}"
WORKER_STARTUP = f"import entrypoints.cli, entrypoints.worker; {BUILD_CONTAINER}"


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


def _offending(modules: set[str], forbidden: tuple[str, ...] = NOT_AT_STARTUP) -> list[str]:
    return sorted(m for m in modules if any(m == name or m.startswith(name + ".") for name in forbidden))


@pytest.mark.parametrize("code", [API_STARTUP, WORKER_STARTUP], ids=["api", "worker"])
def test_a_starting_process_does_not_import_the_dsp_stack_alembic_or_s3(code: str) -> None:
    modules = _imported_after(code)

    assert "entrypoints.cli" in modules
    assert "entrypoints.bootstrap" in modules
    assert _offending(modules) == []


def test_a_starting_worker_does_not_import_the_decoder_or_the_web_framework() -> None:
    modules = _imported_after(WORKER_STARTUP)

    assert _offending(modules, NOT_AT_WORKER_STARTUP) == []


def test_a_starting_api_does_not_import_the_dispatchers_http_client() -> None:
    assert _offending(_imported_after(API_STARTUP), NOT_AT_API_STARTUP) == []


def test_the_feature_configuration_leaves_the_voice_code_unimported() -> None:
    modules = _imported_after("from domain.voice.config import FeatureConfig; FeatureConfig().version")

    assert _offending(modules) == []


def test_the_check_sees_a_module_that_is_imported() -> None:
    modules = _imported_after("import entrypoints.cli; from domain.voice import compare")

    assert "scipy" in _offending(modules)
    assert "av" in _offending(
        _imported_after("from adapters.audio import decoding; decoding.preload()"), ("av",)
    )
    assert "litestar" in _offending(_imported_after(API_STARTUP), NOT_AT_WORKER_STARTUP)


def test_a_process_starts_without_collecting_and_collects_again_once_started() -> None:
    # In a fresh interpreter: freezing would move the test process's own objects out of the collector's sight.
    code = (
        "import gc\n"
        "from entrypoints.cli import _collecting_no_garbage_while_starting\n"
        "with _collecting_no_garbage_while_starting():\n"
        "    assert not gc.isenabled()\n"
        "    import entrypoints.worker\n"
        "assert gc.isenabled()\n"
        "assert gc.get_freeze_count() > 10000\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
