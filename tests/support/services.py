"""Where the tests find Postgres and Redis: the environment, else a Docker engine, else local defaults."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

LOCAL_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class ServiceUrls:
    database_url: str  # a server-level URL; each test session creates its own database on it
    redis_url: str


def _docker_engine_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


@contextmanager
def service_urls() -> Iterator[ServiceUrls]:
    database_url = os.environ.get("DATABASE_URL")
    redis_url = os.environ.get("REDIS_URL")
    with ExitStack() as stack:
        if (database_url is None or redis_url is None) and _docker_engine_answers():
            from testcontainers.postgres import PostgresContainer
            from testcontainers.redis import RedisContainer

            if database_url is None:
                postgres = stack.enter_context(PostgresContainer("postgres:16-alpine", driver="asyncpg"))
                database_url = postgres.get_connection_url()
            if redis_url is None:
                redis = stack.enter_context(RedisContainer("redis:7-alpine"))
                redis_url = f"redis://{redis.get_container_host_ip()}:{redis.get_exposed_port(6379)}/0"
        yield ServiceUrls(database_url or LOCAL_DATABASE_URL, redis_url or LOCAL_REDIS_URL)
