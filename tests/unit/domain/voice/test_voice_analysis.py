from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import signal

from domain.voice import (
    ComparisonResult,
    FeatureConfig,
    Features,
    IncompatibleFeaturesError,
    InvalidSamplesError,
    NoSpeechError,
    Stage,
    TooShortError,
    WordTiming,
    compare,
    compare_with_features,
    extract_features,
)

from .synthetic import RATE, phrase, silence, vowel

WORDS = [WordTiming("first", 0.3, 1.1), WordTiming("second", 1.1, 2.1)]


@pytest.fixture(scope="module")
def self_comparison() -> ComparisonResult:
    return compare(phrase(), phrase(), RATE, WORDS)


def test_a_rendition_identical_to_the_reference_scores_full_marks(self_comparison: ComparisonResult) -> None:
    scores = self_comparison.scores

    assert (
        min(scores.overall, scores.pronunciation, scores.rhythm, scores.energy, scores.completeness) == 100.0
    )
    assert scores.intonation == 100.0


def test_the_result_is_plain_json(self_comparison: ComparisonResult) -> None:
    encoded = json.loads(json.dumps(self_comparison.to_dict()))

    assert encoded["words"][0]["status"] == "ok"
    assert encoded["scores"]["overall"] == 100.0


def _only_builtins(value: object) -> bool:
    if isinstance(value, dict):
        return all(type(key) is str and _only_builtins(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return all(_only_builtins(item) for item in value)
    return value is None or type(value) in {str, int, float, bool}


def test_the_result_holds_only_builtin_values() -> None:
    result = compare(phrase(1), phrase(), RATE, WORDS)

    assert _only_builtins(result.to_dict())


def test_the_pitch_contours_have_at_most_two_hundred_points_in_time_order(
    self_comparison: ComparisonResult,
) -> None:
    contour = self_comparison.pitch

    assert 0 < len(contour.times) <= 200
    assert len(contour.reference) == len(contour.user) == len(contour.times)
    assert list(contour.times) == sorted(contour.times)


def test_stages_are_reported_in_order() -> None:
    stages: list[Stage] = []

    compare(phrase(1), phrase(), RATE, on_stage=stages.append)

    assert stages == [Stage.FEATURES, Stage.ALIGNING, Stage.SCORING]


def test_a_silent_recording_fails_as_no_speech_from_the_user() -> None:
    with pytest.raises(NoSpeechError) as raised:
        compare(silence(2.0), phrase(), RATE)

    assert (raised.value.reason, raised.value.subject) == ("no_speech", "user")


def test_a_silent_reference_fails_as_no_speech_in_the_reference() -> None:
    with pytest.raises(NoSpeechError) as raised:
        compare(phrase(), silence(2.0), RATE)

    assert raised.value.subject == "reference"


def test_a_blip_fails_as_too_short() -> None:
    with pytest.raises(TooShortError) as raised:
        compare(np.concatenate([silence(0.5), vowel(0.1), silence(0.5)]), phrase(), RATE)

    assert (raised.value.reason, raised.value.subject) == ("too_short", "user")


def test_stereo_samples_are_refused() -> None:
    with pytest.raises(InvalidSamplesError):
        compare(np.stack([phrase(), phrase()]), phrase(), RATE)


def test_samples_with_nan_are_refused() -> None:
    broken = phrase()
    broken[100] = np.nan

    with pytest.raises(InvalidSamplesError):
        compare(broken, phrase(), RATE)


def test_recordings_at_another_rate_are_resampled() -> None:
    at_48k = signal.resample_poly(phrase(), 3, 1)

    assert compare(at_48k, at_48k, 48_000).scores.overall == 100.0


def test_stored_reference_features_give_the_same_result_as_the_reference_audio() -> None:
    stored = Features.from_dict(json.loads(json.dumps(extract_features(phrase(), FeatureConfig()).to_dict())))

    from_audio = compare(phrase(1), phrase(), RATE, WORDS)
    from_stored = compare_with_features(phrase(1), RATE, stored, WORDS)

    assert from_stored.scores.overall == pytest.approx(from_audio.scores.overall, abs=1.0)


def test_stored_features_of_another_feature_version_are_refused() -> None:
    stored = extract_features(phrase(), FeatureConfig(n_mels=30))

    with pytest.raises(IncompatibleFeaturesError):
        compare_with_features(phrase(1), RATE, stored)
