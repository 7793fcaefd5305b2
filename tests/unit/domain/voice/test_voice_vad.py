from __future__ import annotations

import numpy as np

from domain.voice.config import FeatureConfig
from domain.voice.vad import find_speech

from .synthetic import RATE, noise, phrase, silence, vowel

CONFIG = FeatureConfig()
TOLERANCE = round(CONFIG.vad_padding_seconds * RATE) + CONFIG.window_samples


def test_speech_span_covers_the_speech_between_silences() -> None:
    speech = vowel(1.0)
    recording = np.concatenate([silence(0.7), speech, silence(0.4)])

    span = find_speech(recording, CONFIG)

    assert span is not None
    assert abs(span.start - round(0.7 * RATE)) <= TOLERANCE
    assert abs(span.stop - round(1.7 * RATE)) <= TOLERANCE


def test_background_noise_before_and_after_speech_is_trimmed() -> None:
    recording = np.concatenate([silence(0.6), vowel(1.0), silence(0.6)]) + noise(2.2, 0.003)

    span = find_speech(recording, CONFIG)

    assert span is not None
    assert abs(span.start - round(0.6 * RATE)) <= TOLERANCE
    assert abs(span.stop - round(1.6 * RATE)) <= TOLERANCE


def test_pauses_inside_the_speech_are_kept() -> None:
    recording = phrase()

    span = find_speech(recording, CONFIG)

    assert span is not None
    assert span.length > 0.8 * (recording.size - round(0.6 * RATE))


def test_digital_silence_is_no_speech() -> None:
    assert find_speech(silence(2.0), CONFIG) is None


def test_steady_noise_alone_is_no_speech() -> None:
    assert find_speech(noise(2.0, 0.05), CONFIG) is None


def test_a_click_is_no_speech() -> None:
    recording = silence(2.0)
    recording[RATE : RATE + 40] = 0.5

    assert find_speech(recording, CONFIG) is None


def test_a_recording_shorter_than_a_window_is_no_speech() -> None:
    assert find_speech(vowel(0.01), CONFIG) is None
