"""Neither app takes Litestar's debug switches from the environment: LITESTAR_DEBUG would put stack traces
in error answers, LITESTAR_PDB would start a debugger on a failing request."""

from __future__ import annotations

import os
import subprocess
import sys

# Builds both apps as their processes do, in a fresh interpreter (building an app configures logging),
# and prints their switches. The analysis server is given a server without processes to start.
SWITCHES = """
from application.reference_analysis.intake import AnalysisIntake, IntakeSettings
from entrypoints.analysis_server.app import create_app as create_analysis_app
from entrypoints.analysis_server.composition import AnalysisServer, destination_guard
from entrypoints.analysis_server.settings import AnalysisServerSettings
from entrypoints.http.app import create_app
from entrypoints.settings import Settings

async def analyse(order):
    return None

settings = AnalysisServerSettings(allow_unauthenticated=True)
server = AnalysisServer(
    settings, AnalysisIntake(analyse, IntakeSettings()), None, None, (), destination_guard(settings)
)
for name, app in (("api", create_app(Settings.from_env())), ("analysis", create_analysis_app(server=server))):
    print(name, app.debug, app.pdb_on_exception)
"""


def test_litestar_debug_and_pdb_variables_switch_nothing_on() -> None:
    env = {**os.environ, "LITESTAR_DEBUG": "1", "LITESTAR_PDB": "1"}
    result = subprocess.run(
        [sys.executable, "-c", SWITCHES], capture_output=True, text=True, timeout=120, env=env, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["api False False", "analysis False False"]
