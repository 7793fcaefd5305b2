"""The commands the Dockerfile and fly.toml run, read from the files themselves."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from entrypoints.cli import main

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "Dockerfile"
FLY_TOML = REPO_ROOT / "fly.toml"
CLI_NAME = "voicepractice"
# "#   <role>: voicepractice ..." in the Dockerfile's header lists the image's roles.
_DOCKER_ROLE = re.compile(r"^#\s+(?P<role>[a-z-]+):\s+(?P<command>voicepractice\b.*?)\s*$")
# An optional process group in fly.toml, commented out: "# <group> = \"voicepractice ...\"".
_COMMENTED_PROCESS = re.compile(r'^\s*#\s*(?P<group>[a-z_-]+)\s*=\s*"(?P<command>voicepractice\b[^"]*)"\s*$')
OPTIONAL_ROLES = frozenset({"analysis"})


@dataclass(frozen=True)
class DeploymentCommand:
    source: str
    role: str
    argv: tuple[str, ...]

    @property
    def optional(self) -> bool:
        return self.role in OPTIONAL_ROLES

    @property
    def id(self) -> str:
        return f"{self.source}:{self.role}"


def fly_config() -> dict[str, Any]:
    return tomllib.loads(FLY_TOML.read_text())


def dockerfile_final_stage() -> list[str]:
    """The instructions of the last stage, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    lines = [
        line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    last_from = max(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
    return lines[last_from:]


def dockerfile_exec_form(instruction: str) -> tuple[str, ...] | None:
    """The JSON (exec) form of the final stage's CMD or ENTRYPOINT, if it has one."""
    for line in reversed(dockerfile_final_stage()):
        keyword, _, rest = line.partition(" ")
        if keyword.upper() == instruction:
            return tuple(json.loads(rest))
    return None


def dockerfile_commands() -> list[DeploymentCommand]:
    cmd = dockerfile_exec_form("CMD")
    commands = [DeploymentCommand("Dockerfile", "CMD", cmd)] if cmd else []
    for line in DOCKERFILE.read_text().splitlines():
        if match := _DOCKER_ROLE.match(line):
            commands.append(
                DeploymentCommand("Dockerfile", match["role"], tuple(shlex.split(match["command"])))
            )
    return commands


def fly_commands() -> list[DeploymentCommand]:
    config = fly_config()
    commands = [
        DeploymentCommand("fly.toml", group, tuple(shlex.split(command)))
        for group, command in config.get("processes", {}).items()
    ]
    commands.append(
        DeploymentCommand(
            "fly.toml", "release_command", tuple(shlex.split(config["deploy"]["release_command"]))
        )
    )
    for line in FLY_TOML.read_text().splitlines():
        if match := _COMMENTED_PROCESS.match(line):
            commands.append(
                DeploymentCommand("fly.toml", match["group"], tuple(shlex.split(match["command"])))
            )
    return commands


def all_commands() -> list[DeploymentCommand]:
    return dockerfile_commands() + fly_commands()


def resolve(argv: tuple[str, ...]) -> tuple[click.Command, list[str], list[str]] | None:
    """The CLI command ``argv`` runs, the subcommand path to it, and the arguments left for it."""
    if not argv or argv[0] != CLI_NAME:
        return None
    command: click.Command = main
    path: list[str] = []
    rest = list(argv[1:])
    while isinstance(command, click.Group) and rest and rest[0] in command.commands:
        path.append(rest[0])
        command = command.commands[rest.pop(0)]
    if isinstance(command, click.Group):
        return None
    return command, path, rest


def option_value(argv: tuple[str, ...], option: str) -> str | None:
    if option in argv and argv.index(option) + 1 < len(argv):
        return argv[argv.index(option) + 1]
    return None


def with_option(argv: tuple[str, ...], option: str, value: str) -> tuple[str, ...]:
    """``argv`` with ``option``'s value replaced (or the option added)."""
    if option not in argv:
        return (*argv, option, value)
    index = argv.index(option)
    return (*argv[: index + 1], value, *argv[index + 2 :])
