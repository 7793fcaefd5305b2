"""Slicing a signal into overlapping frames, and the level and rate helpers every feature shares."""

from __future__ import annotations

from math import gcd

import numpy as np
import numpy.typing as npt
from scipy import signal

from domain.voice.errors import InvalidSamplesError

Signal = npt.NDArray[np.float64]

SILENCE_DB = -120.0


def as_signal(samples: npt.ArrayLike, sample_rate: int, target_rate: int) -> Signal:
    """Mono float64 samples at ``target_rate``; rejects what no decoder should hand over."""
    array = np.asarray(samples)
    if array.ndim != 1:
        raise InvalidSamplesError(f"expected mono samples (one dimension), got shape {array.shape}")
    if sample_rate <= 0:
        raise InvalidSamplesError(f"sample rate must be positive, got {sample_rate}")
    if not np.issubdtype(array.dtype, np.number):
        raise InvalidSamplesError(f"expected numeric samples, got {array.dtype}")
    mono = array.astype(np.float64)
    if not np.all(np.isfinite(mono)):
        raise InvalidSamplesError("samples contain NaN or infinity")
    if sample_rate == target_rate:
        return mono
    divisor = gcd(sample_rate, target_rate)
    resampled: Signal = signal.resample_poly(mono, target_rate // divisor, sample_rate // divisor)
    return resampled


def frame_count(sample_count: int, window: int, hop: int) -> int:
    return max(0, 1 + (sample_count - window) // hop)


def frames(samples: Signal, window: int, hop: int, count: int) -> Signal:
    """``count`` frames of ``window`` samples every ``hop`` samples (a view; zero-padded past the end)."""
    needed = (count - 1) * hop + window if count else 0
    if needed > samples.size:
        samples = np.concatenate([samples, np.zeros(needed - samples.size)])
    view: Signal = np.lib.stride_tricks.sliding_window_view(samples[:needed], window)[::hop]
    return view


def power_db(power: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    level: npt.NDArray[np.float64] = 10.0 * np.log10(np.maximum(power, 10.0 ** (SILENCE_DB / 10.0)))
    return level
