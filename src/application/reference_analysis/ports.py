"""Ports of the reference analysis server: fetching and decoding audio, CPU work, sending webhooks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt

T = TypeVar("T")
StageCallback = Callable[[str], None]


class DownloadError(Exception):
    """The audio could not be fetched; ``too_large`` when it is bigger than the caller allows."""

    def __init__(self, detail: str, *, too_large: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.too_large = too_large


class AudioFetcher(Protocol):
    async def fetch(self, url: str, max_bytes: int) -> bytes:
        """The body of a plain GET of ``url``; raise DownloadError when it cannot be had whole."""
        ...


@dataclass(frozen=True, slots=True, eq=False)
class DecodedSignal:
    """``bandwidth_hz`` is the highest frequency the recording carries: half the sample rate, or less
    for audio recorded through a narrower channel (4 kHz for AMR-NB and other telephone-band audio)."""

    samples: npt.NDArray[np.float32]
    sample_rate: int
    duration_seconds: float
    bandwidth_hz: float


class AudioDecoder(Protocol):
    def decode(self, data: bytes, sample_rate: int, max_seconds: float) -> DecodedSignal:
        """Mono samples at ``sample_rate``. Blocking and CPU-bound.

        Raises domain.audio.UndecodableAudioError, or AudioTooLongError past ``max_seconds``.
        """
        ...


class CpuRunner(Protocol):
    def run(self, task: Callable[[StageCallback], T], on_stage: StageCallback) -> Awaitable[T]:
        """Run the blocking ``task`` off the event loop and return what it returns.

        The task calls its argument with a stage name as it enters each stage; ``on_stage`` receives
        those names on the event loop. Runners that use other processes need a picklable task and
        a picklable result.
        """
        ...


@dataclass(frozen=True, slots=True)
class Notification:
    """One webhook: ``webhook_id`` identifies the event, so it stays the same across delivery attempts."""

    webhook_id: str
    type: str
    occurred_at: datetime
    data: Mapping[str, object]


class WebhookSender(Protocol):
    async def deliver(self, callback_url: str, notification: Notification) -> bool:
        """Deliver until the receiver answers 2xx (True) or the sender gives up (False, logged)."""
        ...
