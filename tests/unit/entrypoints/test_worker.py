"""The worker's configuration and its periodic tasks, with fake steps and a fake relay."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest

from application.analysis.relay import DispatchRound, RelayOutcome
from entrypoints.settings import ConfigurationError, Settings
from entrypoints.worker import PeriodicTask, RelayWakeLoop, WorkerSettings, outbox_sweep

FAST = 0.01


class CountingStep:
    """Answers each round with the next scripted backlog flag (or raises), then with no backlog."""

    def __init__(self, *rounds: bool | Exception, hold_seconds: float = 0.0) -> None:
        self._rounds = list(rounds)
        self._hold = hold_seconds
        self.started = 0
        self.finished = 0
        self._progress = asyncio.Condition()

    async def __call__(self) -> bool:
        async with self._progress:
            self.started += 1
            self._progress.notify_all()
        await asyncio.sleep(self._hold)
        self.finished += 1
        outcome = self._rounds.pop(0) if self._rounds else False
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def wait_for_rounds(self, count: int, within: float = 5.0) -> None:
        async with asyncio.timeout(within), self._progress:
            await self._progress.wait_for(lambda: self.started >= count)


class FakeRelay:
    def __init__(self, due: int) -> None:
        self._due = due

    async def sweep(self, batch_size: int = 100) -> list[RelayOutcome]:
        claimed, self._due = min(self._due, batch_size), max(self._due - batch_size, 0)
        return [RelayOutcome(uuid4(), "sent") for _ in range(claimed)]


def test_the_worker_defaults_to_ten_jobs_at_once() -> None:
    assert WorkerSettings.from_env({}).concurrency == 10


def test_worker_concurrency_comes_from_the_environment() -> None:
    assert WorkerSettings.from_env({"WORKER_CONCURRENCY": "25"}).concurrency == 25


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("WORKER_CONCURRENCY", "0"),
        ("WORKER_CONCURRENCY", "many"),
        ("WORKER_SWEEP_INTERVAL_SECONDS", "0"),
        ("WORKER_SHUTDOWN_GRACE_SECONDS", "-1"),
    ],
)
def test_an_unusable_worker_setting_is_a_configuration_error(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError):
        WorkerSettings.from_env({variable: value})


def test_the_analysis_servers_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "ANALYSIS_TOKEN_SERVER_URL": "http://token:9000/",
            "ANALYSIS_SCRIPT_SERVER_URL": "http://script:9001",
        }
    )

    assert (settings.analysis_token_server_url, settings.analysis_script_server_url) == (
        "http://token:9000",
        "http://script:9001",
    )


def test_a_relay_lease_no_longer_than_a_dispatch_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="ANALYSIS_RELAY_LEASE_SECONDS"):
        Settings.from_env({"ANALYSIS_RELAY_LEASE_SECONDS": "5", "ANALYSIS_DISPATCH_TIMEOUT_SECONDS": "5"})


def test_a_mark_window_of_a_tenth_of_the_lease_or_more_is_refused() -> None:
    lease = {"ANALYSIS_RELAY_LEASE_SECONDS": "30", "ANALYSIS_DISPATCH_TIMEOUT_SECONDS": "10"}
    with pytest.raises(ConfigurationError, match="ANALYSIS_RELAY_MARK_WINDOW_SECONDS"):
        Settings.from_env({**lease, "ANALYSIS_RELAY_MARK_WINDOW_SECONDS": "3"})

    assert (
        Settings.from_env(
            {**lease, "ANALYSIS_RELAY_MARK_WINDOW_SECONDS": "2.9"}
        ).analysis_relay_mark_window_seconds
        == 2.9
    )


async def test_a_periodic_task_waits_the_interval_after_a_round_without_backlog() -> None:
    step = CountingStep()
    task = PeriodicTask("test", step, interval_seconds=60)
    task.start()
    await step.wait_for_rounds(1)
    await asyncio.sleep(0.2)
    await task.stop(grace_seconds=1)

    assert step.started == 1


async def test_a_periodic_task_runs_again_at_once_while_there_is_a_backlog() -> None:
    step = CountingStep(True, True, False)
    task = PeriodicTask("test", step, interval_seconds=60)
    task.start()

    await step.wait_for_rounds(3)
    await task.stop(grace_seconds=1)


async def test_a_failing_round_does_not_stop_a_periodic_task() -> None:
    step = CountingStep(ConnectionError("database unreachable"))
    task = PeriodicTask("test", step, interval_seconds=FAST)
    task.start()

    await step.wait_for_rounds(2)
    await task.stop(grace_seconds=1)


async def test_a_periodic_task_backs_off_while_its_rounds_keep_failing() -> None:
    step = CountingStep(*[ConnectionError("database unreachable")] * 5)
    task = PeriodicTask("test", step, interval_seconds=0.05)
    task.start()

    await asyncio.sleep(0.5)
    await task.stop(grace_seconds=1)

    # Rounds at 0, 0.1, 0.3 and 0.7 s (waits 0.1, 0.2, 0.4): three by 0.5 s (fewer on a slow machine,
    # never more), not one every 0.05 s.
    assert 2 <= step.started <= 3


async def test_stopping_a_periodic_task_lets_the_round_in_progress_finish() -> None:
    step = CountingStep(hold_seconds=0.3)
    task = PeriodicTask("test", step, interval_seconds=60)
    task.start()
    await step.wait_for_rounds(1)

    await task.stop(grace_seconds=5)

    assert step.finished == 1


async def test_a_periodic_task_starts_no_round_once_the_shared_stop_event_is_set() -> None:
    stopping = asyncio.Event()
    step = CountingStep()
    task = PeriodicTask("test", step, interval_seconds=FAST, stopping=stopping)
    task.start()
    await step.wait_for_rounds(2)

    stopping.set()
    await asyncio.sleep(0.05)
    rounds = step.started
    await asyncio.sleep(0.2)
    await task.stop(grace_seconds=1)

    assert step.started == rounds


async def test_a_full_sweep_batch_reports_a_backlog() -> None:
    sweep = outbox_sweep(FakeRelay(due=20), batch_size=16)  # type: ignore[arg-type]

    assert (await sweep(), await sweep()) == (True, False)


class FakeSubscription:
    def __init__(self) -> None:
        self.pending: asyncio.Queue[None] = asyncio.Queue()
        self.lost = False
        self.closed = False

    async def wait(self, timeout_seconds: float) -> int:
        if self.lost:
            raise ConnectionError("the wake-up connection closed")
        try:
            async with asyncio.timeout(timeout_seconds):
                await self.pending.get()
        except TimeoutError:
            return 0
        woken = 1
        while not self.pending.empty():
            self.pending.get_nowait()
            woken += 1
        return woken

    def close(self) -> None:
        self.closed = True


class FakeWakeups:
    """Wake-ups are put on the subscription by the test; ``failures`` subscriptions fail first."""

    def __init__(self, failures: int = 0) -> None:
        self.subscription = FakeSubscription()
        self._failures = failures
        self.attempts = 0
        self.for_the_next = 0  # wake-ups that reach the next subscription as it is made

    async def subscribe(self) -> FakeSubscription:
        self.attempts += 1
        if self.attempts <= self._failures:
            raise ConnectionError("redis down")
        if self.subscription.closed:
            self.subscription = FakeSubscription()  # a new connection
            self.wake(self.for_the_next)
        return self.subscription

    def wake(self, times: int = 1) -> None:
        for _ in range(times):
            self.subscription.pending.put_nowait(None)


class ClaimingRelay:
    """Claims up to the limit of ``due`` rows per call and records each claim's size."""

    def __init__(self, due: int) -> None:
        self.due = due
        self.claims: list[int] = []

    async def dispatch_due(self, limit: int, *, wait_for_slot: bool = True) -> DispatchRound:
        claimed, self.due = min(self.due, limit), max(self.due - limit, 0)
        self.claims.append(claimed)
        outcomes: asyncio.Future[list[RelayOutcome]] = asyncio.get_running_loop().create_future()
        outcomes.set_result([RelayOutcome(uuid4(), "sent") for _ in range(claimed)])
        return DispatchRound(claimed, outcomes)


async def run_wake_loop(relay: ClaimingRelay, wakeups: FakeWakeups, settle: float = 0.1) -> None:
    stopping = asyncio.Event()
    loop = RelayWakeLoop(relay, wakeups, stopping, batch_size=16, poll_seconds=FAST)  # type: ignore[arg-type]
    loop.start()
    await asyncio.sleep(settle)
    await loop.stop(grace_seconds=1)


async def test_wake_ups_that_arrived_together_are_served_by_one_claim() -> None:
    relay, wakeups = ClaimingRelay(due=5), FakeWakeups()
    wakeups.wake(5)

    await run_wake_loop(relay, wakeups)

    assert relay.claims == [5]


async def test_a_full_batch_is_claimed_again_at_once_without_another_wake_up() -> None:
    relay, wakeups = ClaimingRelay(due=20), FakeWakeups()
    wakeups.wake()

    await run_wake_loop(relay, wakeups)

    assert relay.claims == [16, 4]


async def test_nothing_is_claimed_without_a_wake_up() -> None:
    relay = ClaimingRelay(due=5)

    await run_wake_loop(relay, FakeWakeups())

    assert relay.claims == []


async def test_a_subscription_that_fails_is_tried_again() -> None:
    relay, wakeups = ClaimingRelay(due=3), FakeWakeups(failures=2)
    wakeups.wake()

    await run_wake_loop(relay, wakeups, settle=0.3)

    assert (wakeups.attempts, relay.claims) == (3, [3])


async def test_a_lost_subscription_is_closed_and_replaced_by_a_new_one() -> None:
    relay, wakeups = ClaimingRelay(due=3), FakeWakeups()
    lost = wakeups.subscription
    lost.lost = True
    wakeups.for_the_next = 1

    await run_wake_loop(relay, wakeups, settle=0.3)

    assert (lost.closed, wakeups.attempts, relay.claims) == (True, 2, [3])
