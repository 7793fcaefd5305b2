"""Recordings made for tests: a pure tone, or a text spoken by espeak-ng with its word timings."""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.support.encoding import encode_audio
from tests.support.speech import synthesize


def tone(seconds: float, fmt: str = "wav", frequency: float = 220.0) -> bytes:
    """A synthetic recording of ``seconds`` in an upload container (see tests/support/encoding.py)."""
    rate = 16000
    t = np.arange(int(seconds * rate)) / rate
    return encode_audio((0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32), rate, fmt)


def spoken(text: str, fmt: str = "wav") -> tuple[bytes, list[dict[str, Any]]]:
    """``text`` spoken by espeak-ng, encoded in ``fmt``, with its word timings as the API takes them."""
    speech = synthesize(text)
    words = [
        {"index": i, "text": w.text, "start": round(w.start, 3), "end": round(w.end, 3)}
        for i, w in enumerate(speech.words)
    ]
    return encode_audio(speech.samples, speech.sample_rate, fmt), words
