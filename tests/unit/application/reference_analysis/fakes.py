"""In-memory fakes of the reference analysis server's ports."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from uuid import UUID, uuid4

import numpy as np
import numpy.typing as npt

from application.reference_analysis.orders import AnalysisOrder, AudioSource
from application.reference_analysis.ports import DecodedSignal, DownloadError, Notification, StageCallback
from domain.audio import AudioTooLongError, UndecodableAudioError
from domain.catalog import ReferenceKind, Word

T = TypeVar("T")
RATE = 16_000
RECORDING_URL = "http://storage.test/recording"
REFERENCE_URL = "http://storage.test/reference"
CALLBACK_URL = "http://api.test/webhooks/analysis"


class FakeFetcher:
    """Serves bytes by URL; an Exception stored for a URL is raised instead."""

    def __init__(self, objects: dict[str, bytes | Exception] | None = None) -> None:
        self.objects = objects or {RECORDING_URL: b"recording", REFERENCE_URL: b"reference"}
        self.fetched: list[str] = []

    async def fetch(self, url: str, max_bytes: int) -> bytes:
        self.fetched.append(url)
        found = self.objects.get(url, DownloadError("404"))
        if isinstance(found, Exception):
            raise found
        if len(found) > max_bytes:
            raise DownloadError("too large", too_large=True)
        return found


class FakeDecoder:
    """Decodes the fetched bytes to the samples registered for them (at 16 kHz whatever rate is asked);
    "undecodable" and "too long" fail, and bytes starting "narrowband" carry only a 4 kHz band."""

    def __init__(self, signals: dict[bytes, npt.NDArray[np.float64]]) -> None:
        self.signals = signals
        self.rates: list[tuple[bytes, int]] = []

    def decode(self, data: bytes, sample_rate: int, max_seconds: float) -> DecodedSignal:
        self.rates.append((data, sample_rate))
        if data == b"undecodable":
            raise UndecodableAudioError("garbage")
        if data == b"too long":
            raise AudioTooLongError(max_seconds, max_seconds + 1)
        samples = self.signals[data].astype(np.float32)
        bandwidth = 4000.0 if data.startswith(b"narrowband") else sample_rate / 2
        return DecodedSignal(samples, RATE, samples.size / RATE, bandwidth_hz=bandwidth)


class InlineRunner:
    """Runs the task on the event loop itself; stages reach the callback as they happen."""

    def __init__(self) -> None:
        self.runs = 0

    async def run(self, task: Callable[[StageCallback], T], on_stage: StageCallback) -> T:
        self.runs += 1
        return task(on_stage)


class BrokenRunner:
    async def run(self, task: Callable[[StageCallback], T], on_stage: StageCallback) -> T:
        raise RuntimeError("the analysis process died")


@dataclass
class RecordingSender:
    """Records deliveries in the order they complete; ``delays`` holds a webhook back by its type."""

    delays: dict[str, float] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)
    delivered: list[tuple[str, Notification]] = field(default_factory=list)

    async def deliver(self, callback_url: str, notification: Notification) -> bool:
        await asyncio.sleep(self.delays.get(notification.type, 0.0))
        if notification.type in self.failing:
            raise ConnectionError("the receiver is down")
        self.delivered.append((callback_url, notification))
        return True

    @property
    def notifications(self) -> list[Notification]:
        return [notification for _, notification in self.delivered]

    def types(self) -> list[str]:
        return [notification.type for notification in self.notifications]

    def stages(self) -> list[str]:
        return [str(n.data["stage"]) for n in self.notifications if n.type == "analysis.progress"]


class FixedClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.current = now or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current


def order(
    *,
    job_id: UUID | None = None,
    words: tuple[Word, ...] = (),
    deadline: datetime | None = None,
) -> AnalysisOrder:
    return AnalysisOrder(
        job_id=job_id or uuid4(),
        kind=ReferenceKind.TOKEN,
        recording=AudioSource(RECORDING_URL, "audio/webm"),
        reference=AudioSource(REFERENCE_URL, "audio/wav"),
        callback_url=CALLBACK_URL,
        deadline=deadline
        if deadline is not None
        else datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=2),
        text="",
        words=words,
    )
