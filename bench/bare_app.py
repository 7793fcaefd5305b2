"""The benchmarks' baseline: a bare Litestar app whose POST inserts one row, nothing else."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from litestar import Litestar, Request, get, post
from litestar.datastructures import State


async def _pool(app: Litestar) -> None:
    url = os.environ["BENCH_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    app.state.pool = await asyncpg.create_pool(url, min_size=2, max_size=10)


async def _close(app: Litestar) -> None:
    await app.state.pool.close()


async def _insert(state: State, size: int) -> None:
    async with state.pool.acquire() as connection:
        await connection.execute(
            "INSERT INTO bench_rows (id, body_size, at) VALUES ($1, $2, $3)",
            uuid.uuid4(),
            size,
            datetime.now(UTC),
        )


@post("/bare", status_code=202)
async def bare(request: Request[Any, Any, Any], state: State) -> dict[str, str]:
    form = await request.form()
    upload = form["file"]
    data = await upload.read()
    await _insert(state, len(data))
    return {"status": "ok"}


@post("/bare-json", status_code=200)
async def bare_json(request: Request[Any, Any, Any], state: State) -> dict[str, str]:
    body = await request.body()
    await _insert(state, len(body))
    return {"status": "ok"}


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def create() -> Litestar:
    return Litestar(
        [bare, bare_json, health], on_startup=[_pool], on_shutdown=[_close], request_max_body_size=None
    )
