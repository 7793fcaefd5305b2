"""Audio inspection port: proves an upload is audio we can analyse before it is stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.audio import AudioFormat, AudioLimits


@dataclass(frozen=True, slots=True)
class InspectedAudio:
    format: AudioFormat
    duration_seconds: float
    size: int


class AudioInspector(Protocol):
    def inspect(self, data: bytes, limits: AudioLimits) -> InspectedAudio:
        """Check the upload against the limits, in order: size, format, decodability, duration.

        Raise the matching domain.audio.AudioRejectedError subclass at the first check that fails.
        Blocking and CPU-bound: async callers run it in a worker thread, unless the input is known to
        check in about a millisecond (a small uncompressed WAV, see ``RecordingUploads._inspect``).
        """
        ...
