"""MFCC frames: mel filterbank energies floored relative to the loud frames, DCT, per-utterance CMVN.

A ``warp`` scales the filterbank's frequencies (vocal tract length normalisation): cepstra of a voice
whose formants sit ``warp`` times higher than another's, computed with that warp, resemble the other's.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
from scipy import fft

from domain.voice.config import FeatureConfig
from domain.voice.framing import Signal, frames, power_db

Matrix = npt.NDArray[np.float64]

_UNWARPED_SHARE_OF_NYQUIST = 0.8
_FRAMES_PER_BLOCK = 1024


def _hz_to_mel(hz: Matrix) -> Matrix:
    mel: Matrix = 2595.0 * np.log10(1.0 + hz / 700.0)
    return mel


def _mel_to_hz(mel: Matrix) -> Matrix:
    hz: Matrix = 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    return hz


def _warped(hz: Matrix, warp: float, nyquist: float) -> Matrix:
    """Piecewise linear: ``warp * f`` up to a knee, then straight to the Nyquist frequency."""
    knee = _UNWARPED_SHARE_OF_NYQUIST * nyquist / max(warp, 1.0)
    above = warp * knee + (hz - knee) * (nyquist - warp * knee) / (nyquist - knee)
    warped: Matrix = np.where(hz <= knee, warp * hz, above)
    return warped


@lru_cache(maxsize=64)
def mel_filterbank(config: FeatureConfig, warp: float = 1.0) -> Matrix:
    """Triangular filters, (fft bins x n_mels), on the HTK mel scale."""
    edges_mel = np.linspace(
        _hz_to_mel(np.array(config.mel_low_hz)), _hz_to_mel(np.array(config.mel_high_hz)), config.n_mels + 2
    )
    edges = _warped(_mel_to_hz(edges_mel), warp, config.sample_rate / 2)
    bins = np.fft.rfftfreq(config.fft_size, 1.0 / config.sample_rate)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None, :] - lower) / (centre - lower)
    falling = (upper - bins[None, :]) / (upper - centre)
    weights = np.ascontiguousarray(np.maximum(0.0, np.minimum(rising, falling)).T)
    weights.setflags(write=False)
    return weights


@lru_cache(maxsize=8)
def _window(length: int) -> Matrix:
    window = np.hamming(length)
    window.setflags(write=False)
    return window


def power_spectra(samples: Signal, frame_total: int, config: FeatureConfig) -> Matrix:
    """(frames x fft bins) power spectra of the pre-emphasised, Hamming-windowed frames."""
    emphasised = np.append(samples[:1], samples[1:] - config.pre_emphasis * samples[:-1])
    framed = frames(emphasised, config.window_samples, config.hop_samples, frame_total)
    window = _window(config.window_samples)
    spectra = np.empty((frame_total, config.fft_size // 2 + 1))
    for block in range(0, frame_total, _FRAMES_PER_BLOCK):
        rows = slice(block, block + _FRAMES_PER_BLOCK)
        spectrum = np.fft.rfft(framed[rows] * window, n=config.fft_size, axis=1)
        spectra[rows] = spectrum.real**2 + spectrum.imag**2
    return spectra


def cepstra(spectra: Matrix, config: FeatureConfig, warp: float = 1.0) -> Matrix:
    """(frames x n_mfcc) cepstra, each coefficient normalised to zero mean and unit variance."""
    mel_db = power_db(spectra @ mel_filterbank(config, warp))
    loud = float(np.percentile(mel_db.max(axis=1), config.loud_percentile))
    floored = np.maximum(mel_db, loud - config.mel_floor_db)
    coefficients = fft.dct(floored, type=2, norm="ortho", axis=1)[:, : config.n_mfcc]
    spread = coefficients.std(axis=0)
    normalised: Matrix = (coefficients - coefficients.mean(axis=0)) / np.where(spread > 1e-9, spread, 1.0)
    return normalised
