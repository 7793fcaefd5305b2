"""Alterations with known ground truth move times as they claim."""

from __future__ import annotations

import numpy as np
import pytest
from bench.evaluation import transforms
from bench.evaluation.sources import SAMPLE_RATE, _asterisk_transcripts


def _tone(seconds: float, hertz: float = 200.0) -> np.ndarray:
    return np.sin(2 * np.pi * hertz * np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE)


def test_tempo_changes_the_length_by_the_factor_and_maps_times_with_it() -> None:
    altered = transforms.tempo(_tone(2.0), 1.25)
    assert altered.samples.size == pytest.approx(1.6 * SAMPLE_RATE, abs=1)
    assert altered.time_map(1.0) == pytest.approx(0.8)


def test_tempo_keeps_the_pitch() -> None:
    stretched = transforms.tempo(_tone(1.0, 200.0), 0.8).samples
    spectrum = np.abs(np.fft.rfft(stretched * np.hanning(stretched.size)))
    assert np.fft.rfftfreq(stretched.size, 1 / SAMPLE_RATE)[np.argmax(spectrum)] == pytest.approx(200, abs=3)


def test_cutting_a_span_shortens_the_recording_and_moves_later_times_earlier() -> None:
    altered = transforms.without_span(_tone(2.0), 0.5, 0.75)
    assert altered.samples.size == round(1.75 * SAMPLE_RATE)
    assert (altered.time_map(0.4), altered.time_map(1.0)) == pytest.approx((0.4, 0.75))


def test_inserting_moves_times_after_the_insert_later() -> None:
    altered = transforms.with_insert(_tone(1.0), 0.5, _tone(0.25))
    assert (altered.time_map(0.4), altered.time_map(0.6)) == pytest.approx((0.4, 0.85))


def test_noise_is_added_at_the_requested_ratio_to_the_speech() -> None:
    speech = _tone(1.0)
    noise = transforms.white_noise(speech.size)
    mixed = transforms.with_noise(speech, noise, 10.0).samples
    ratio = transforms.active_power(speech) / transforms.active_power(mixed - speech)
    assert 10 * np.log10(ratio) == pytest.approx(10.0, abs=0.1)


def test_transcripts_skip_comments_tones_and_silences() -> None:
    listing = "; comment\nbeep: [a tone]\nsilence/1: (1 second of silence)\nhello: Hello there.\n"
    assert _asterisk_transcripts(listing) == {"hello": "Hello there."}
