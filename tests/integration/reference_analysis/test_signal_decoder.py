"""The analysis server's decoder tells telephone-band recordings from wideband ones."""

from __future__ import annotations

import pytest

from adapters.reference_analysis.decoder import NARROWBAND_HZ, PyAvSignalDecoder
from tests.support.encoding import encode_audio
from tests.support.speech import Voice, synthesize

LINE = "Mom made mellow melodies on a lazy Monday morning."


@pytest.mark.parametrize("fmt", ["3gp", "amr"])
def test_an_amr_narrowband_recording_carries_a_4_khz_band(fmt: str) -> None:
    speech = synthesize(LINE, Voice("en-us+m3"))

    decoded = PyAvSignalDecoder().decode(encode_audio(speech.samples, speech.sample_rate, fmt), 16_000, 60.0)

    assert decoded.bandwidth_hz == NARROWBAND_HZ


@pytest.mark.parametrize("fmt", ["wav", "webm", "m4a", "mp3"])
def test_a_wideband_recording_carries_the_full_band(fmt: str) -> None:
    speech = synthesize(LINE, Voice("en-us+m3"))

    decoded = PyAvSignalDecoder().decode(encode_audio(speech.samples, speech.sample_rate, fmt), 16_000, 60.0)

    assert decoded.bandwidth_hz == 8000.0
