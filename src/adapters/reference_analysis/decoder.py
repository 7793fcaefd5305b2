"""The analysis server's audio decoder: any supported upload container to mono float samples (PyAV)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from adapters.audio.decoding import decode_audio
from application.reference_analysis.ports import DecodedSignal

NARROWBAND_HZ = 4000.0
# Telephone-band audio (AMR-NB in 3GP, 8 kHz recordings) keeps under 1e-5 of its energy above 4.2 kHz
# (just past the resampler's transition band); wideband speech keeps at least 7e-4 there, even a line
# of only vowels and nasals (measured on espeak-ng voices decoded from every upload container).
_NARROWBAND_CHECK_HZ = 4200.0
_NARROWBAND_MAX_ENERGY = 1e-4


class PyAvSignalDecoder:
    """Stateless, so it pickles into the analysis processes."""

    def decode(self, data: bytes, sample_rate: int, max_seconds: float) -> DecodedSignal:
        decoded = decode_audio(data, sample_rate, max_seconds=max_seconds)
        return DecodedSignal(
            decoded.samples,
            decoded.sample_rate,
            decoded.duration_seconds,
            bandwidth_hz=_bandwidth(decoded.samples, decoded.sample_rate),
        )


def _bandwidth(samples: npt.NDArray[np.float32], sample_rate: int) -> float:
    nyquist = sample_rate / 2
    if nyquist <= _NARROWBAND_CHECK_HZ:
        return nyquist
    power = np.abs(np.fft.rfft(samples.astype(np.float64))) ** 2
    total = float(power.sum())
    if total <= 0:
        return nyquist
    above = float(power[np.fft.rfftfreq(samples.size, 1 / sample_rate) > _NARROWBAND_CHECK_HZ].sum())
    return NARROWBAND_HZ if above / total < _NARROWBAND_MAX_ENERGY else nyquist
