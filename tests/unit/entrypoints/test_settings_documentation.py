"""The README's and docs/' configuration tables are the settings classes' variables, no more and no fewer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from entrypoints.analysis_server.settings import AnalysisServerSettings
from entrypoints.cli import SETTINGS_DOCUMENTS, settings_tables
from entrypoints.settings import Settings
from entrypoints.worker import WorkerSettings
from shared_kernel.settings import variables, with_tables

ROOT = Path(__file__).resolve().parents[3]
DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
# Upper-case words in backticks that are not environment variables.
NOT_VARIABLES = {"INFO", "PUT", "SUBSCRIBE", "UNSUBSCRIBE"}
# Variables the test suite reads, not the service (each must be read under tests/, checked below).
TEST_SUITE_VARIABLES = {"FUZZ_EXAMPLES"}
_BACKTICKED_NAME = re.compile(r"`([A-Z][A-Z0-9_]*)`")


def _read_variables() -> set[str]:
    return {
        name
        for cls in (Settings, WorkerSettings, AnalysisServerSettings)
        for spec, _ in variables(cls)
        for name in spec.names
    }


@pytest.mark.parametrize("document", sorted(SETTINGS_DOCUMENTS))
def test_the_configuration_tables_are_written_from_the_settings(document: str) -> None:
    current = (ROOT / document).read_text()
    tables = settings_tables()

    rendered = with_tables(current, {name: tables[name] for name in SETTINGS_DOCUMENTS[document]})

    assert rendered == current, f"{document} is out of date: run `make docs`"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_variable_a_document_names_is_read_by_a_setting(document: Path) -> None:
    named = set(_BACKTICKED_NAME.findall(document.read_text())) - NOT_VARIABLES - TEST_SUITE_VARIABLES

    assert named - _read_variables() == set()


def test_every_setting_is_in_a_configuration_table() -> None:
    tables = "".join(settings_tables().values())

    assert {name for name in _read_variables() if f"`{name}`" not in tables} == set()


@pytest.mark.parametrize("name", sorted(TEST_SUITE_VARIABLES))
def test_every_documented_test_suite_variable_is_read_by_a_test(name: str) -> None:
    sources = "".join(path.read_text() for path in (ROOT / "tests").rglob("*.py"))

    assert f'os.environ.get("{name}"' in sources
