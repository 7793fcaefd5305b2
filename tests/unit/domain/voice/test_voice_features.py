from __future__ import annotations

import json

import numpy as np
import pytest

from domain.voice.config import FeatureConfig
from domain.voice.errors import NoSpeechError, TooShortError
from domain.voice.features import Features, extract_features

from .synthetic import noise, phrase, silence, vowel

CONFIG = FeatureConfig()


def test_features_survive_a_json_round_trip() -> None:
    features = extract_features(phrase(), CONFIG)

    restored = Features.from_dict(json.loads(json.dumps(features.to_dict())))

    assert restored.version == features.version
    assert restored.offset_seconds == features.offset_seconds
    np.testing.assert_allclose(restored.mfcc, features.mfcc, atol=1e-4)
    np.testing.assert_allclose(restored.pitch_semitones, features.pitch_semitones, atol=1e-3)
    np.testing.assert_allclose(restored.energy_db, features.energy_db, atol=1e-2)
    assert restored.median_f0_hz == pytest.approx(features.median_f0_hz, abs=1e-3)


def test_unvoiced_frames_are_stored_as_null() -> None:
    stored = extract_features(phrase(), CONFIG).to_dict()

    assert None in stored["pitch_semitones"]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("key", "value"),
    [("mfcc", "not a list"), ("hop_seconds", "0.01"), ("energy_db", None), ("offset_seconds", True)],
)
def test_malformed_stored_features_are_rejected(key: str, value: object) -> None:
    stored = extract_features(phrase(), CONFIG).to_dict() | {key: value}

    with pytest.raises(ValueError, match=key):
        Features.from_dict(stored)


def test_stored_features_missing_a_field_are_rejected() -> None:
    stored = extract_features(phrase(), CONFIG).to_dict()
    del stored["version"]

    with pytest.raises(ValueError, match="version"):
        Features.from_dict(stored)


def test_stored_frames_of_unequal_counts_are_rejected() -> None:
    stored = extract_features(phrase(), CONFIG).to_dict()
    stored["energy_db"] = stored["energy_db"][:-1]  # type: ignore[index]

    with pytest.raises(ValueError, match="one value per frame"):
        Features.from_dict(stored)


def test_features_between_two_times_hold_the_frames_centred_there() -> None:
    features = extract_features(phrase(), CONFIG)

    word = features.between(0.5, 0.8)

    assert word.frame_count == 30
    assert word.frame_time(0) == pytest.approx(0.5, abs=CONFIG.hop_seconds)
    np.testing.assert_array_equal(word.mfcc, features.mfcc[round(features.frame_at(0.5)) :][:30])


def test_frame_times_are_on_the_recordings_clock() -> None:
    features = extract_features(np.concatenate([silence(0.5), phrase()]), CONFIG)

    assert features.offset_seconds == pytest.approx(0.5 + 0.3 - CONFIG.vad_padding_seconds, abs=0.03)
    assert features.frame_at(features.frame_time(42)) == pytest.approx(42)


def test_a_silent_recording_has_no_speech() -> None:
    with pytest.raises(NoSpeechError):
        extract_features(silence(2.0) + noise(2.0, 1e-4), CONFIG)


def test_a_blip_of_speech_is_too_short() -> None:
    with pytest.raises(TooShortError):
        extract_features(np.concatenate([silence(0.5), vowel(0.1), silence(0.5)]), CONFIG)
