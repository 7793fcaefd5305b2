"""Synthetic voice-like signals with known properties: harmonic vowels with formants, noise, silence."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import signal

RATE = 16_000

Samples = npt.NDArray[np.float64]


def silence(seconds: float) -> Samples:
    return np.zeros(round(seconds * RATE))


def noise(seconds: float, level: float, seed: int = 0) -> Samples:
    return level * np.random.default_rng(seed).standard_normal(round(seconds * RATE))


def vowel(
    seconds: float,
    f0_start: float = 120.0,
    f0_end: float | None = None,
    formants: tuple[float, ...] = (700.0, 1200.0, 2600.0),
    amplitude: float = 0.3,
) -> Samples:
    """A harmonic series gliding from ``f0_start`` to ``f0_end``, shaped by formant resonators."""
    count = round(seconds * RATE)
    f0 = np.linspace(f0_start, f0_start if f0_end is None else f0_end, count)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    harmonics = np.arange(1, int(4000 // max(f0_start, f0_end or f0_start)) + 1)
    source = (np.sin(np.outer(phase, harmonics)) / harmonics).sum(axis=1)
    shaped = source
    for formant in formants:
        radius = np.exp(-np.pi * 80.0 / RATE)
        shaped = signal.lfilter(
            [1.0 - radius], [1.0, -2 * radius * np.cos(2 * np.pi * formant / RATE), radius**2], shaped
        )
    ramp = min(count // 2, round(0.02 * RATE))
    envelope = np.ones(count)
    envelope[:ramp] = envelope[-ramp:][::-1] = np.linspace(0.0, 1.0, ramp)
    shaped = shaped * envelope
    scaled: Samples = amplitude * shaped / np.max(np.abs(shaped))
    return scaled


def fricative(seconds: float, low_hz: float = 3000.0, amplitude: float = 0.1, seed: int = 1) -> Samples:
    sos = signal.butter(4, [low_hz, min(7800.0, low_hz * 2)], btype="band", fs=RATE, output="sos")
    hiss = signal.sosfilt(sos, noise(seconds, 1.0, seed))
    scaled: Samples = amplitude * hiss / np.max(np.abs(hiss))
    return scaled


def phrase(seed: int = 0, f0: float = 120.0) -> Samples:
    """Syllable-like vowels of different formants between fricatives; the pitch rises, then falls."""
    rng = np.random.default_rng(seed)
    parts = [silence(0.3)]
    vowels = [
        (700.0, 1200.0, 2600.0),
        (300.0, 2300.0, 3000.0),
        (350.0, 800.0, 2400.0),
        (500.0, 1500.0, 2500.0),
    ]
    pitch = [f0, f0 * 1.15, f0 * 1.25, f0 * 1.1, f0 * 0.95, f0 * 0.85]
    for index in range(6):
        parts.append(fricative(0.08, low_hz=float(rng.uniform(2500, 4000)), seed=seed + index))
        parts.append(vowel(0.18, pitch[index], pitch[index] * 0.97, vowels[(seed + index) % len(vowels)]))
        parts.append(silence(0.05))
    parts.append(silence(0.3))
    return np.concatenate(parts)
