from __future__ import annotations

import dataclasses

import numpy as np

from domain.voice.config import FeatureConfig
from domain.voice.features import extract_features, measure
from domain.voice.mfcc import cepstra, mel_filterbank

from .synthetic import noise, phrase

CONFIG = FeatureConfig()


def test_each_coefficient_is_normalised_over_the_utterance() -> None:
    features = extract_features(phrase(), CONFIG)

    np.testing.assert_allclose(features.mfcc.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(features.mfcc.std(axis=0), 1.0, atol=1e-9)


def test_loudness_does_not_change_the_features() -> None:
    loud, quiet = extract_features(phrase(), CONFIG), extract_features(0.25 * phrase(), CONFIG)

    np.testing.assert_allclose(quiet.mfcc, loud.mfcc, atol=1e-6)


def test_the_floor_keeps_quiet_background_noise_from_changing_the_features() -> None:
    clean = phrase()
    noisy = clean + noise(clean.size / 16_000, 0.0003, seed=7)
    unfloored = dataclasses.replace(CONFIG, mel_floor_db=200.0)

    def change(config: FeatureConfig) -> float:
        return float(np.mean(np.linalg.norm(
            extract_features(noisy, config).mfcc - extract_features(clean, config).mfcc, axis=1
        )))  # fmt: skip

    assert change(CONFIG) < 0.3 * change(unfloored)


def test_an_identity_warp_is_the_plain_filterbank() -> None:
    np.testing.assert_array_equal(mel_filterbank(CONFIG, 1.0), mel_filterbank(CONFIG))


def test_a_warp_moves_the_filters_up_in_frequency() -> None:
    def centres(warp: float) -> np.ndarray:
        peaks: np.ndarray = np.argmax(mel_filterbank(CONFIG, warp), axis=0)
        return peaks

    assert np.all(centres(1.2) >= centres(1.0))
    assert np.mean(centres(1.2) - centres(1.0)) > 1.0


def test_the_unwarped_cepstra_are_the_features() -> None:
    utterance = measure(phrase(), CONFIG)

    np.testing.assert_array_equal(cepstra(utterance.spectra, CONFIG), utterance.features.mfcc)
