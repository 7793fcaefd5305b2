"""The upload admission limit: a slot handed first come first served, a bounded wait, no slot leaked."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from entrypoints.http.admission import Admission
from entrypoints.http.problems import ProblemError


class _Held:
    """An ASGI app whose requests stay in until released, recording the order they got in."""

    def __init__(self) -> None:
        self.entered: list[int] = []
        self.release = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.entered.append(scope["n"])
        await self.release.wait()


async def _request(admit: Any, n: int) -> str:
    try:
        await admit({"n": n}, None, None)
    except ProblemError as error:
        return f"refused {error.status_code} after {error.headers['Retry-After']} s"
    return "done"


async def test_past_the_limit_a_request_waits_and_gets_the_next_slot_in_arrival_order() -> None:
    admission, app = Admission(limit=2, wait_seconds=5.0), _Held()
    admit = admission.middleware(app)
    requests = [asyncio.create_task(_request(admit, n)) for n in range(4)]
    await asyncio.sleep(0.05)
    assert app.entered == [0, 1]
    assert admission.in_flight == 2
    assert admission.waiting == 2

    app.release.set()

    assert await asyncio.gather(*requests) == ["done"] * 4
    assert app.entered == [0, 1, 2, 3]
    assert (admission.in_flight, admission.waiting) == (0, 0)


async def test_a_request_that_waits_too_long_is_refused_and_frees_its_place() -> None:
    admission, app = Admission(limit=1, wait_seconds=0.05), _Held()
    admit = admission.middleware(app)
    first = asyncio.create_task(_request(admit, 0))
    await asyncio.sleep(0.01)

    assert await _request(admit, 1) == "refused 503 after 1 s"
    assert admission.waiting == 0

    app.release.set()
    assert await first == "done"
    assert admission.in_flight == 0


async def test_without_a_wait_one_over_the_limit_is_refused_at_once() -> None:
    admission, app = Admission(limit=1), _Held()
    admit = admission.middleware(app)
    first = asyncio.create_task(_request(admit, 0))
    await asyncio.sleep(0.01)

    assert await _request(admit, 1) == "refused 503 after 1 s"

    app.release.set()
    await first
    assert admission.in_flight == 0


async def test_a_client_gone_while_waiting_leaks_no_slot() -> None:
    admission, app = Admission(limit=1, wait_seconds=5.0), _Held()
    admit = admission.middleware(app)
    first = asyncio.create_task(_request(admit, 0))
    gone = asyncio.create_task(_request(admit, 1))
    await asyncio.sleep(0.01)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert admission.waiting == 0

    app.release.set()
    await first
    assert (admission.in_flight, admission.waiting) == (0, 0)
    app.release = asyncio.Event()
    again = [asyncio.create_task(_request(admit, n)) for n in (2, 3)]
    await asyncio.sleep(0.01)
    assert app.entered == [0, 2]
    app.release.set()
    assert await asyncio.gather(*again) == ["done", "done"]


async def test_a_newcomer_does_not_jump_the_queue_when_a_slot_frees() -> None:
    admission, app = Admission(limit=1, wait_seconds=5.0), _Held()
    admit = admission.middleware(app)
    first = asyncio.create_task(_request(admit, 0))
    waiting = asyncio.create_task(_request(admit, 1))
    await asyncio.sleep(0.01)
    app.release.set()
    newcomer = asyncio.create_task(_request(admit, 2))
    assert await asyncio.gather(first, waiting, newcomer) == ["done"] * 3
    assert app.entered == [0, 1, 2]
