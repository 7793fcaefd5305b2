"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get
from litestar.openapi import ResponseSpec

from application.readiness import Readiness
from entrypoints.http.dependencies import Injected
from entrypoints.http.problems import ProblemError
from entrypoints.http.schemas import ProbeOut, ProblemOut, ReadinessOut


class HealthController(Controller):
    tags = ["operations"]

    @get("/health")
    async def health(self) -> dict[str, str]:
        """The process is alive and serving requests."""
        return {"status": "ok"}

    @get(
        "/ready",
        responses={
            503: ResponseSpec(
                data_container=ProblemOut, media_type="application/problem+json", description="Not ready"
            )
        },
    )
    async def ready(self, readiness: Injected[Readiness]) -> Response[Any]:
        """Postgres, Redis and object storage all answer; 503 names each part that does not."""
        results = await readiness.check()
        checks = [ProbeOut(r.name, r.ok, r.error) for r in results]
        failed = [r.name for r in results if not r.ok]
        if failed:
            raise ProblemError(
                503,
                "not-ready",
                f"not ready: {', '.join(failed)} unavailable",
                extra={
                    "failed": failed,
                    "checks": [{"name": c.name, "ok": c.ok, "error": c.error} for c in checks],
                },
            )
        return Response(ReadinessOut(status="ready", checks=checks))
