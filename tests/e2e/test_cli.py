"""The ``voicepractice`` command against a fresh database, configured through the environment."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner, Result
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.persistence import migrations
from application.accounts import Credentials, SignUpRequest
from domain.accounts import Role
from domain.errors import AuthenticationError
from entrypoints.bootstrap import build_container
from entrypoints.cli import main
from entrypoints.settings import DEV_SECRET_KEY, Settings
from tests.support.environments import PRODUCTION_ENV

EmptyDatabaseFactory = Callable[[], str]
ADMIN_EMAIL = "root@example.com"


@pytest.fixture
def environment(redis_url: str, tmp_path: Path) -> dict[str, str | None]:
    """What the CLI sees besides DATABASE_URL; ``None`` unsets a variable the outer shell may have set."""
    return {
        "APP_ENV": "test",
        "REDIS_URL": redis_url,
        "STORAGE_BACKEND": "local",
        "LOCAL_STORAGE_DIR": str(tmp_path / "storage"),
        "SECRET_KEY": None,
        "STORAGE_URL_SECRET": None,
        "ADMIN_PASSWORD": None,
    }


@pytest.fixture
def run_cli(environment: dict[str, str | None]) -> Callable[..., Result]:
    def run(*args: str, env: Mapping[str, str | None] | None = None) -> Result:
        return CliRunner().invoke(main, list(args), env={**environment, **(env or {})})

    return run


@pytest.fixture
def migrated_database(empty_database_factory: EmptyDatabaseFactory) -> str:
    url = empty_database_factory()
    migrations.upgrade(url)
    return url


def settings_for(database_url: str, redis_url: str, tmp_path: Path) -> Settings:
    return replace(
        Settings(),
        environment="test",
        database_url=database_url,
        redis_url=redis_url,
        local_storage_dir=tmp_path / "storage",
    )


async def _role_after_log_in(settings: Settings, email: str, password: str) -> Role:
    container = await build_container(settings)
    try:
        token = await container.authentication.log_in(Credentials(email=email, password=password))
        return container.authentication.authenticate(token.token).role
    finally:
        await container.close()


async def _sign_up_user(settings: Settings, email: str, password: str) -> None:
    container = await build_container(settings)
    try:
        await container.registration.sign_up(SignUpRequest(email=email, password=password, display_name="U"))
    finally:
        await container.close()


async def _query(database_url: str, statement: str) -> object:
    engine = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text(statement))
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


def test_db_create_creates_a_missing_database_and_then_leaves_it_alone(
    run_cli: Callable[..., Result], empty_database_factory: EmptyDatabaseFactory
) -> None:
    database_url = empty_database_factory()  # the factory drops it again at the end of the session
    name = make_url(database_url).database
    server_url = make_url(database_url).set(database="postgres").render_as_string(hide_password=False)
    asyncio.run(_query(server_url, f'DROP DATABASE "{name}"'))

    first = run_cli("db", "create", env={"DATABASE_URL": database_url})
    second = run_cli("db", "create", env={"DATABASE_URL": database_url})

    assert (first.exit_code, first.output.strip(), second.exit_code, second.output.strip()) == (
        0,
        "database created",
        0,
        "database exists",
    )


def test_db_upgrade_migrates_an_empty_database_to_head(
    run_cli: Callable[..., Result], empty_database_factory: EmptyDatabaseFactory
) -> None:
    database_url = empty_database_factory()
    head = ScriptDirectory.from_config(migrations.alembic_config(database_url)).get_current_head()

    result = run_cli("db", "upgrade", env={"DATABASE_URL": database_url})

    assert result.exit_code == 0, result.output
    assert asyncio.run(_query(database_url, "SELECT version_num FROM alembic_version")) == head


def test_create_admin_creates_an_account_that_logs_in_as_admin(
    run_cli: Callable[..., Result], migrated_database: str, redis_url: str, tmp_path: Path
) -> None:
    result = run_cli(
        "create-admin",
        "--email",
        ADMIN_EMAIL,
        "--password",
        "admin password 123",
        env={"DATABASE_URL": migrated_database},
    )
    assert result.exit_code == 0, result.output

    settings = settings_for(migrated_database, redis_url, tmp_path)
    assert asyncio.run(_role_after_log_in(settings, ADMIN_EMAIL, "admin password 123")) is Role.ADMIN


def test_create_admin_on_an_existing_user_promotes_it_with_the_new_password(
    run_cli: Callable[..., Result], migrated_database: str, redis_url: str, tmp_path: Path
) -> None:
    settings = settings_for(migrated_database, redis_url, tmp_path)
    asyncio.run(_sign_up_user(settings, ADMIN_EMAIL, "old password 123"))

    result = run_cli(
        "create-admin",
        "--email",
        ADMIN_EMAIL,
        "--password",
        "new password 456",
        env={"DATABASE_URL": migrated_database},
    )
    assert result.exit_code == 0, result.output

    assert asyncio.run(_role_after_log_in(settings, ADMIN_EMAIL, "new password 456")) is Role.ADMIN


def test_create_admin_on_an_existing_user_retires_the_old_password(
    run_cli: Callable[..., Result], migrated_database: str, redis_url: str, tmp_path: Path
) -> None:
    settings = settings_for(migrated_database, redis_url, tmp_path)
    asyncio.run(_sign_up_user(settings, ADMIN_EMAIL, "old password 123"))

    result = run_cli(
        "create-admin",
        "--email",
        ADMIN_EMAIL,
        "--password",
        "new password 456",
        env={"DATABASE_URL": migrated_database},
    )
    assert result.exit_code == 0, result.output

    with pytest.raises(AuthenticationError):
        asyncio.run(_role_after_log_in(settings, ADMIN_EMAIL, "old password 123"))


def test_check_config_refuses_production_with_the_dev_secret(run_cli: Callable[..., Result]) -> None:
    result = run_cli("check-config", env={**PRODUCTION_ENV, "SECRET_KEY": DEV_SECRET_KEY})
    assert result.exit_code != 0
    assert "SECRET_KEY" in result.output


def test_check_config_refuses_production_without_a_metrics_token(run_cli: Callable[..., Result]) -> None:
    result = run_cli("check-config", env={**PRODUCTION_ENV, "METRICS_TOKEN": None})
    assert result.exit_code != 0
    assert "METRICS_TOKEN" in result.output


def test_check_config_accepts_production_with_proper_secrets(run_cli: Callable[..., Result]) -> None:
    result = run_cli("check-config", env=PRODUCTION_ENV)
    assert result.exit_code == 0, result.output
