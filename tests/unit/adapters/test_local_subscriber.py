"""A stream's inbox and the timer its waits share: what a wait answers, and that nothing is left behind."""

from __future__ import annotations

import asyncio

from adapters.events.redis_fanout import LocalSubscriber, SharedTimer, shared_timer


async def test_a_wait_without_a_message_answers_none_after_its_timeout() -> None:
    subscriber: LocalSubscriber[str] = LocalSubscriber()
    loop = asyncio.get_running_loop()
    started = loop.time()

    assert await subscriber.receive(0.05) is None
    assert loop.time() - started >= 0.05


async def test_a_message_put_during_a_wait_ends_it_with_that_message() -> None:
    subscriber: LocalSubscriber[str] = LocalSubscriber()
    waiting = asyncio.ensure_future(subscriber.receive(30))
    await asyncio.sleep(0)

    subscriber.put("news")

    assert await asyncio.wait_for(waiting, 5) == "news"


async def test_messages_are_received_in_the_order_they_were_put() -> None:
    subscriber: LocalSubscriber[int] = LocalSubscriber()
    for number in range(5):
        subscriber.put(number)

    assert [await subscriber.receive(1) for _ in range(5)] == [0, 1, 2, 3, 4]


async def test_many_waits_share_the_timer_and_leave_nothing_behind() -> None:
    timer = shared_timer(asyncio.get_running_loop())
    subscribers: list[LocalSubscriber[str]] = [LocalSubscriber() for _ in range(100)]
    waits = [asyncio.ensure_future(subscriber.receive(30)) for subscriber in subscribers]
    quiet = [asyncio.ensure_future(subscriber.receive(0.05)) for subscriber in [LocalSubscriber[str]()] * 3]
    await asyncio.sleep(0)
    assert timer.pending == 103

    for subscriber in subscribers[:50]:
        subscriber.put("news")
    for wait in waits[50:]:
        wait.cancel()  # clients that went away
    answers = await asyncio.gather(*waits[:50], *quiet)
    await asyncio.gather(*waits[50:], return_exceptions=True)

    assert answers == ["news"] * 50 + [None] * 3
    assert timer.pending == 0


async def test_the_timer_wakes_each_waiter_at_its_own_deadline() -> None:
    loop = asyncio.get_running_loop()
    timer = SharedTimer(loop, resolution=0.01)
    early: asyncio.Future[None] = loop.create_future()
    late: asyncio.Future[None] = loop.create_future()
    timer.wake(late, 0.5)
    timer.wake(early, 0.02)

    await asyncio.wait_for(early, 5)

    assert not late.done()
    await asyncio.wait_for(late, 5)
