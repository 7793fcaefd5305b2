"""Energy voice activity detection: where speech starts and stops in a recording."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from domain.voice.config import FeatureConfig
from domain.voice.framing import Signal, frame_count, frames, power_db


@dataclass(frozen=True, slots=True)
class SpeechSpan:
    """Samples ``[start, stop)`` of the recording hold its speech; the rest is leading/trailing silence."""

    start: int
    stop: int

    @property
    def length(self) -> int:
        return self.stop - self.start


def find_speech(samples: Signal, config: FeatureConfig) -> SpeechSpan | None:
    """The span from the first to the last sustained loud frame, padded; None when nothing is speech.

    A frame is loud when it is within ``vad_floor_db`` of the loud frames, ``vad_noise_margin_db`` above
    the quietest frames (so steady noise never counts) and above an absolute floor (so hiss alone is
    not speech).
    """
    window, hop = config.window_samples, config.hop_samples
    count = frame_count(samples.size, window, hop)
    if count == 0:
        return None
    level = power_db(np.mean(frames(samples, window, hop, count) ** 2, axis=1))
    loud = float(np.percentile(level, config.loud_percentile))
    quiet = float(np.percentile(level, 100.0 - config.loud_percentile))
    threshold = max(
        loud - config.vad_floor_db, quiet + config.vad_noise_margin_db, config.vad_absolute_floor_dbfs
    )
    min_run = max(1, round(config.vad_min_run_seconds / config.hop_seconds))
    sustained = ndimage.binary_opening(level > threshold, structure=np.ones(min_run, dtype=bool))
    active = np.flatnonzero(sustained)
    if active.size == 0:
        return None
    padding = round(config.vad_padding_seconds * config.sample_rate)
    start = max(0, int(active[0]) * hop - padding)
    stop = min(samples.size, int(active[-1]) * hop + window + padding)
    return SpeechSpan(start, stop)
