from __future__ import annotations

import numpy as np
import pytest

from domain.voice.config import FeatureConfig
from domain.voice.features import extract_features
from domain.voice.pitch import semitones_from_median, without_octave_jumps

from .synthetic import noise, silence, vowel

CONFIG = FeatureConfig()


def _padded(samples: np.ndarray) -> np.ndarray:
    return np.concatenate([silence(0.2), samples, silence(0.2)])


@pytest.mark.parametrize("f0", [70.0, 110.0, 180.0, 260.0, 420.0])
def test_steady_pitch_is_measured_within_half_a_percent(f0: float) -> None:
    features = extract_features(_padded(vowel(1.0, f0)), CONFIG)

    assert features.median_f0_hz == pytest.approx(f0, rel=0.005)


def test_an_octave_glide_spans_twelve_semitones_upwards() -> None:
    features = extract_features(_padded(vowel(1.0, 120.0, 240.0)), CONFIG)
    contour = features.pitch_semitones[features.voiced]

    assert contour[-1] - contour[0] == pytest.approx(12.0, abs=0.6)
    assert np.all(np.diff(contour) > -0.1)


def test_noise_is_unvoiced() -> None:
    features = extract_features(
        np.concatenate([silence(0.2), noise(1.0, 0.1), vowel(0.3), silence(0.2)]), CONFIG
    )

    assert not features.voiced[: round(0.9 / CONFIG.hop_seconds)].any()


def test_semitones_are_relative_to_the_median_and_nan_stays_unvoiced() -> None:
    semitones, median = semitones_from_median(np.array([100.0, 200.0, np.nan, 400.0]))

    assert median == 200.0
    np.testing.assert_allclose(semitones, [-12.0, 0.0, np.nan, 12.0])


def test_a_frame_an_octave_off_its_neighbours_is_unvoiced() -> None:
    f0 = np.array([100.0, 101.0, 200.0, 102.0, 101.0, np.nan, 100.0])

    cleaned = without_octave_jumps(f0, limit_semitones=6.0)

    np.testing.assert_array_equal(cleaned, [100.0, 101.0, np.nan, 102.0, 101.0, np.nan, 100.0])


def test_a_real_pitch_change_is_kept() -> None:
    f0 = np.array([100.0, 100.0, 100.0, 200.0, 200.0, 200.0])

    np.testing.assert_array_equal(without_octave_jumps(f0, limit_semitones=6.0), f0)
