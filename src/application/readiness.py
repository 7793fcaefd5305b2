"""Readiness: every dependency answers within a deadline, checked concurrently."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from application.ports.health import DependencyProbe


@dataclass(frozen=True, slots=True)
class ProbeResult:
    name: str
    ok: bool
    error: str | None = None


class Readiness:
    def __init__(self, probes: Sequence[DependencyProbe], timeout_seconds: float = 2.0) -> None:
        self._probes = probes
        self._timeout = timeout_seconds

    async def check(self) -> list[ProbeResult]:
        return list(await asyncio.gather(*(self._run(probe) for probe in self._probes)))

    async def _run(self, probe: DependencyProbe) -> ProbeResult:
        try:
            await asyncio.wait_for(probe.check(), self._timeout)
        except TimeoutError:
            return ProbeResult(probe.name, ok=False, error=f"no answer within {self._timeout:g} s")
        except Exception as error:
            return ProbeResult(probe.name, ok=False, error=type(error).__name__)
        return ProbeResult(probe.name, ok=True)
