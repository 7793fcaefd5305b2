"""Fundamental frequency per frame with YIN (de Cheveigné & Kawahara, 2002), vectorised over frames."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import fft, signal

from domain.voice.config import FeatureConfig
from domain.voice.framing import Signal, frames

Vector = npt.NDArray[np.float64]

# Bounds the memory of the per-frame spectra: about 10 MB per array at a thousand frames.
_FRAMES_PER_BLOCK = 1024


def yin_f0(
    samples: Signal, frame_total: int, candidates: npt.NDArray[np.bool_], config: FeatureConfig
) -> Vector:
    """F0 in Hz per frame, NaN where the frame is unvoiced: aperiodic, or not among the ``candidates``.

    Frame ``i`` integrates over the same ``window_seconds`` as the MFCC frame ``i`` and compares it
    with the signal up to the longest period later, at ``pitch_sample_rate`` (voice F0 needs no more).
    """
    factor = config.sample_rate // config.pitch_sample_rate
    narrow = signal.resample_poly(samples, 1, factor) if factor > 1 else samples
    window = config.window_samples // factor
    span = window + int(np.ceil(config.pitch_sample_rate / config.pitch_min_hz))
    segments = frames(narrow, span, config.hop_samples // factor, frame_total)
    chosen = np.flatnonzero(candidates)
    f0 = np.full(frame_total, np.nan)
    for block in range(0, chosen.size, _FRAMES_PER_BLOCK):
        rows = chosen[block : block + _FRAMES_PER_BLOCK]
        f0[rows] = _yin(segments[rows], window, config)
    return without_octave_jumps(f0, config.pitch_outlier_semitones)


def without_octave_jumps(f0: Vector, limit_semitones: float) -> Vector:
    """Unvoices frames over ``limit_semitones`` away from the median of their five-frame neighbourhood.

    A single frame an octave off (YIN picking twice or half the period) would otherwise dominate the
    spread and correlation of a contour.
    """
    semitones = 12.0 * np.log2(f0)
    neighbourhood = np.lib.stride_tricks.sliding_window_view(np.pad(semitones, 2, constant_values=np.nan), 5)
    ordered = np.sort(neighbourhood, axis=1)  # NaN sorts last
    known = np.count_nonzero(np.isfinite(ordered), axis=1)
    rows = np.arange(f0.size)
    low, high = ordered[rows, np.maximum(known - 1, 0) // 2], ordered[rows, known // 2]
    median = np.where(known > 0, (low + high) / 2.0, np.nan)
    cleaned: Vector = np.where(np.abs(semitones - median) > limit_semitones, np.nan, f0)
    return cleaned


def _yin(segments: Signal, window: int, config: FeatureConfig) -> Vector:
    rate = config.pitch_sample_rate
    min_lag = max(2, int(np.floor(rate / config.pitch_max_hz)))
    max_lag = segments.shape[1] - window
    size = 1 << int(np.ceil(np.log2(segments.shape[1])))
    head = fft.rfft(segments[:, :window], n=size, axis=1)
    whole = fft.rfft(segments, n=size, axis=1)
    correlation = fft.irfft(np.conj(head) * whole, n=size, axis=1)[:, : max_lag + 1]
    energy = np.concatenate([np.zeros((segments.shape[0], 1)), np.cumsum(segments**2, axis=1)], axis=1)
    lagged_energy = energy[:, window : window + max_lag + 1] - energy[:, : max_lag + 1]
    difference = np.maximum(lagged_energy[:, :1] + lagged_energy - 2.0 * correlation, 0.0)[:, 1:]
    lags = np.arange(1, max_lag + 1, dtype=np.float64)
    running = np.cumsum(difference, axis=1)
    normalised = np.where(running > 0, difference * lags / np.where(running > 0, running, 1.0), 1.0)
    search = normalised[:, min_lag - 1 :]
    # YIN's absolute threshold: the first dip below it, followed down to its local minimum.
    dip = (search[:, :-1] < config.yin_threshold) & (search[:, 1:] >= search[:, :-1])
    has_dip = dip.any(axis=1)
    best = np.where(has_dip, dip.argmax(axis=1), search.argmin(axis=1))
    rows = np.arange(segments.shape[0])
    inner = np.clip(best, 1, search.shape[1] - 2)
    before, at, after = search[rows, inner - 1], search[rows, inner], search[rows, inner + 1]
    curvature = before - 2.0 * at + after
    curved = curvature > 1e-12
    shift = np.where(curved, 0.5 * (before - after) / np.where(curved, curvature, 1.0), 0.0)
    refined = np.where(best == inner, inner + np.clip(shift, -0.5, 0.5), best) + min_lag
    f0: Vector = np.where(has_dip, rate / refined, np.nan)
    return f0


def semitones_from_median(f0: Vector) -> tuple[Vector, float]:
    """Pitch in semitones relative to the speaker's median F0 (NaN stays NaN), and that median in Hz."""
    voiced = f0[np.isfinite(f0)]
    if voiced.size == 0:
        return np.full_like(f0, np.nan), float("nan")
    median = float(np.median(voiced))
    semitones: Vector = 12.0 * np.log2(f0 / median)
    return semitones, median
