"""Alterations of a recording whose effect on word times is known exactly (16 kHz float samples).

Each returns the altered samples and a map from times on the original to times on the altered one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import signal

from bench.evaluation.sources import SAMPLE_RATE

Samples = npt.NDArray[np.float64]
TimeMap = Callable[[float], float]


@dataclass(frozen=True, slots=True, eq=False)
class Altered:
    samples: Samples
    time_map: TimeMap


def unchanged(samples: Samples) -> Altered:
    return Altered(samples, lambda time: time)


def tempo(samples: Samples, factor: float) -> Altered:
    """Spoken ``factor`` times as fast at the same pitch (WSOLA): a time t moves to t / factor."""
    return Altered(_stretch(samples, factor), lambda time: time / factor)


def padded(samples: Samples, lead: float, trail: float, seed: int = 0) -> Altered:
    """Silence (a faint noise floor, as a real microphone gives) before and after the speech."""
    noise = np.random.default_rng(seed).normal(0.0, 1e-4, round((lead + trail) * SAMPLE_RATE))
    head, tail = noise[: round(lead * SAMPLE_RATE)], noise[round(lead * SAMPLE_RATE) :]
    return Altered(np.concatenate([head, samples, tail]), lambda time: time + lead)


def pitch_shifted(samples: Samples, semitones: float) -> Altered:
    """The same timing with every frequency moved by ``semitones``: stretched, then resampled back."""
    ratio = 2.0 ** (semitones / 12.0)
    stretched = _stretch(samples, 1.0 / ratio)
    shifted = signal.resample(stretched, samples.size)
    return Altered(np.asarray(shifted, dtype=np.float64), lambda time: time)


def with_noise(samples: Samples, noise: Samples, snr_db: float) -> Altered:
    """``noise`` (looped to length) added at ``snr_db`` below the speech's active level."""
    looped = np.resize(noise, samples.size)
    gain = np.sqrt(active_power(samples) / max(active_power(looped), 1e-20) / 10.0 ** (snr_db / 10.0))
    return Altered(samples + gain * looped, lambda time: time)


def white_noise(size: int, seed: int = 0) -> Samples:
    return np.random.default_rng(seed).normal(0.0, 1.0, size)


def babble(voices: Sequence[Samples], size: int, seed: int = 0) -> Samples:
    """Several talkers at once: each recording looped from a random offset, at equal active levels."""
    rng = np.random.default_rng(seed)
    mixture = np.zeros(size)
    for voice in voices:
        looped = np.roll(np.resize(voice, size), int(rng.integers(size)))
        mixture += looped / np.sqrt(max(active_power(voice), 1e-20))
    return mixture


def reverberant(samples: Samples, rt60: float = 0.5, seed: int = 0) -> Altered:
    """Convolved with a room response: the direct sound, then noise decaying 60 dB in ``rt60``."""
    length = round(rt60 * SAMPLE_RATE)
    time = np.arange(length) / SAMPLE_RATE
    response = np.random.default_rng(seed).normal(0.0, 1.0, length) * 10.0 ** (-3.0 * time / rt60) * 0.1
    response[0] = 1.0
    wet = signal.fftconvolve(samples, response)[: samples.size]
    return Altered(wet * (np.abs(samples).max() / max(np.abs(wet).max(), 1e-12)), lambda time: time)


def telephone(samples: Samples) -> Altered:
    """Band-limited to 300-3400 Hz, as a narrowband phone call carries it."""
    band = signal.butter(6, [300.0, 3400.0], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    return Altered(signal.sosfiltfilt(band, samples), lambda time: time)


def clipped(samples: Samples, keep: float = 0.3) -> Altered:
    """Peaks flattened at ``keep`` of the maximum, as an overdriven phone microphone does."""
    limit = keep * float(np.abs(samples).max())
    return Altered(np.clip(samples, -limit, limit), lambda time: time)


def without_span(samples: Samples, start: float, end: float) -> Altered:
    """The stretch ``start``..``end`` (seconds) cut out; later times move earlier by its length."""
    first, stop = round(start * SAMPLE_RATE), round(end * SAMPLE_RATE)
    removed = end - start
    return Altered(
        np.concatenate([samples[:first], samples[stop:]]),
        lambda time: time if time <= start else max(start, time - removed),
    )


def with_insert(samples: Samples, at: float, inserted: Samples) -> Altered:
    """``inserted`` spliced in at ``at`` (seconds); later times move later by its length."""
    cut = round(at * SAMPLE_RATE)
    length = inserted.size / SAMPLE_RATE
    return Altered(
        np.concatenate([samples[:cut], inserted, samples[cut:]]),
        lambda time: time if time < at else time + length,
    )


def active_power(samples: Samples, frame: int = 320, range_db: float = 30.0) -> float:
    """Mean power of the 20 ms frames within ``range_db`` of the loudest: the speech, not its pauses."""
    count = max(1, samples.size // frame)
    powers = (
        (samples[: count * frame].reshape(count, -1) ** 2).mean(axis=1)
        if samples.size >= frame
        else (np.array([float((samples**2).mean()) if samples.size else 0.0]))
    )
    loudest = float(powers.max())
    if loudest <= 0:
        return 0.0
    return float(powers[powers >= loudest * 10.0 ** (-range_db / 10.0)].mean())


def _stretch(samples: Samples, factor: float, frame: int = 640, tolerance: int = 160) -> Samples:
    """Waveform-similarity overlap-add: output frames every ``frame / 2`` samples, each read from near
    ``factor`` times its output position where it best continues the previous one."""
    hop = frame // 2
    window = np.hanning(frame)
    padded_input = np.concatenate([np.zeros(tolerance), samples, np.zeros(frame + tolerance)])
    length = round(samples.size / factor)
    output = np.zeros(length + frame)
    norm = np.zeros(length + frame)
    previous = 0  # where the last frame was read, in the padded input
    for position in range(0, length, hop):
        nominal = round(position * factor) + tolerance
        if position == 0:
            chosen = nominal
        else:
            natural = padded_input[previous + hop : previous + hop + frame]
            low, high = max(0, nominal - tolerance), min(padded_input.size - frame, nominal + tolerance)
            region = padded_input[low : high + frame]
            correlation = signal.correlate(region, natural, mode="valid")
            chosen = low + int(np.argmax(correlation))
        output[position : position + frame] += padded_input[chosen : chosen + frame] * window
        norm[position : position + frame] += window
        previous = chosen
    stretched: Samples = output[:length] / np.maximum(norm[:length], 1e-3)
    return stretched
