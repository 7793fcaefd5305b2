"""Every module of src/ belongs to the service, to the reference analysis server, or to what they share.

The import contracts in pyproject.toml only constrain the modules they name; a new module named in none
of them would be free to cross the boundary, so this test makes naming it part of adding it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
SERVICE_CONTRACT = "The service imports nothing of the reference analysis server"
ANALYSIS_CONTRACT = "The reference analysis server imports nothing of the service"
SHARED_CONTRACT = "Shared pieces import neither program"


def _contracts() -> dict[str, dict[str, list[str]]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["name"]: contract for contract in config["contracts"]}


def _modules() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def _within(module: str, listed: list[str]) -> bool:
    return any(module == entry or module.startswith(entry + ".") for entry in listed)


def _sides() -> dict[str, list[str]]:
    contracts = _contracts()
    return {
        "service": contracts[SERVICE_CONTRACT]["source_modules"],
        "analysis server": contracts[ANALYSIS_CONTRACT]["source_modules"],
        "shared": contracts[SHARED_CONTRACT]["source_modules"],
    }


def test_the_contracts_forbid_each_side_exactly_the_other() -> None:
    contracts = _contracts()
    sides = _sides()

    assert sorted(contracts[SERVICE_CONTRACT]["forbidden_modules"]) == sorted(sides["analysis server"])
    assert sorted(contracts[ANALYSIS_CONTRACT]["forbidden_modules"]) == sorted(sides["service"])
    assert sorted(contracts[SHARED_CONTRACT]["forbidden_modules"]) == sorted(
        sides["analysis server"] + sides["service"]
    )


@pytest.mark.parametrize("module", _modules())
def test_every_module_is_on_exactly_one_side(module: str) -> None:
    sides = _sides()
    listed = [entry for entries in sides.values() for entry in entries]
    # A package whose modules lie on different sides (application.ports, adapters, ...) is only a folder.
    if any(entry.startswith(module + ".") for entry in listed) and not _within(module, listed):
        return

    owners = [side for side, entries in sides.items() if _within(module, entries)]

    assert len(owners) == 1, (
        f"{module} is on {owners or 'no side'}: name it in exactly one of the boundary contracts "
        "in pyproject.toml (service, reference analysis server, or shared)"
    )
