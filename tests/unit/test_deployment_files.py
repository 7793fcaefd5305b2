"""What can be checked of the Dockerfile and fly.toml without a Docker engine or a Fly account.

Every command they run must exist in the ``voicepractice`` CLI and accept the options given to it;
tests/integration/deployment/ starts the long-running ones for real.
"""

from __future__ import annotations

import re

import pytest

from tests.support.deployment import (
    DOCKERFILE,
    DeploymentCommand,
    all_commands,
    dockerfile_exec_form,
    dockerfile_final_stage,
    fly_config,
    option_value,
    resolve,
)

COMMANDS = all_commands()


def _require_in_cli(command: DeploymentCommand) -> None:
    if resolve(command.argv) is None and command.optional:
        pytest.skip(
            f"{' '.join(command.argv)!r} ({command.id}) is not in the CLI yet: the reference analysis "
            "server is being added in another change"
        )


def test_the_files_name_the_api_worker_and_migration_commands() -> None:
    subcommands = {tuple(command.argv[1:2]) for command in COMMANDS}
    assert {("serve",), ("worker",), ("db",)} <= subcommands


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: command.id)
def test_each_deployment_command_is_a_voicepractice_cli_command(command: DeploymentCommand) -> None:
    _require_in_cli(command)
    assert resolve(command.argv) is not None, f"{command.id} runs {command.argv}, which the CLI does not know"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: command.id)
def test_each_deployment_command_accepts_its_options(command: DeploymentCommand) -> None:
    _require_in_cli(command)
    resolved = resolve(command.argv)
    assert resolved is not None
    cli_command, path, arguments = resolved
    # Parses the options and arguments as the real run would, without invoking the command.
    cli_command.make_context(" ".join(["voicepractice", *path]), list(arguments))


def test_the_image_runs_the_api_by_default() -> None:
    everywhere = "0.0.0.0"  # noqa: S104 - in a container the API must listen on every interface
    assert dockerfile_exec_form("CMD") == ("voicepractice", "serve", "--host", everywhere, "--port", "8080")


def test_the_image_has_no_entrypoint_so_every_role_is_just_a_command() -> None:
    assert dockerfile_exec_form("ENTRYPOINT") is None


def test_the_runtime_stage_runs_as_a_non_root_user() -> None:
    users = [line.split()[1] for line in dockerfile_final_stage() if line.upper().startswith("USER ")]
    assert users, "the final stage sets no USER"
    assert users[-1].split(":")[0] not in {"root", "0"}


RUNTIME_DEBIAN_PACKAGES = {"espeak-ng", "libespeak-ng1"}  # the forced aligner's speech synthesiser


def test_the_runtime_stage_carries_no_uv_or_build_tools() -> None:
    stage = "\n".join(dockerfile_final_stage())
    assert "--from=uv" not in stage
    assert "uv sync" not in stage
    installs = re.findall(r"apt-get install ([^&]*)", stage)
    packages = {word for install in installs for word in install.split() if not word.startswith("-")}
    assert packages <= RUNTIME_DEBIAN_PACKAGES, packages - RUNTIME_DEBIAN_PACKAGES


def test_the_build_installs_exactly_the_locked_production_dependencies() -> None:
    syncs = [line for line in DOCKERFILE.read_text().splitlines() if "uv sync" in line]
    assert syncs
    assert all("--frozen" in line and "--no-dev" in line for line in syncs)


def test_fly_runs_migrations_as_the_release_command() -> None:
    assert fly_config()["deploy"]["release_command"] == "voicepractice db upgrade"


def test_fly_scales_the_api_and_the_worker_as_separate_process_groups() -> None:
    processes = fly_config()["processes"]
    assert processes["app"].split()[:2] == ["voicepractice", "serve"]
    assert processes["worker"] == "voicepractice worker"


def test_fly_routes_http_only_to_the_api_group_on_the_port_it_listens_on() -> None:
    config = fly_config()
    service = config["http_service"]
    assert service["processes"] == ["app"]
    assert str(service["internal_port"]) == option_value(tuple(config["processes"]["app"].split()), "--port")


def test_fly_checks_liveness_and_readiness_over_http() -> None:
    checks = fly_config()["http_service"]["checks"]
    assert {check["path"] for check in checks} == {"/health", "/ready"}


def test_fly_stops_machines_with_sigterm() -> None:
    assert fly_config()["kill_signal"] == "SIGTERM"


def test_fly_waits_longer_than_the_graceful_shutdown_before_killing() -> None:
    assert int(fly_config()["kill_timeout"]) > 20  # uvicorn's drain and the worker's grace are 20 s


def test_fly_names_no_secret_in_its_environment() -> None:
    secrets = {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ANALYSIS_WEBHOOK_SECRETS", "METRICS_TOKEN"}
    assert not secrets & set(fly_config().get("env", {}))
