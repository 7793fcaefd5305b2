from __future__ import annotations

import numpy as np
import pytest

from domain.voice.alignment import Alignment
from domain.voice.features import Features
from domain.voice.mapping import FrameMap
from domain.voice.result import WordStatus, WordTiming
from domain.voice.scoring import (
    ScoringSettings,
    energy,
    intonation,
    logistic_score,
    overall,
    rhythm,
    segment_completeness,
    speech_steps,
)
from domain.voice.words import judge_words

SETTINGS = ScoringSettings()
FRAMES = 200


def _features(
    pitch: np.ndarray | None = None, loudness: np.ndarray | None = None, frames: int = FRAMES
) -> Features:
    time = np.arange(frames) / 100
    return Features(
        version="test",
        hop_seconds=0.01,
        window_seconds=0.025,
        offset_seconds=0.0,
        mfcc=np.stack([np.sin(time * (k + 1)) for k in range(13)], axis=1),
        pitch_semitones=3 * np.sin(time * 4) if pitch is None else pitch,
        energy_db=-10 + 8 * np.sin(time * 9) if loudness is None else loudness,
        median_f0_hz=120.0,
    )


def _diagonal(frames: int = FRAMES, costs: np.ndarray | None = None) -> Alignment:
    steps = np.arange(frames)
    return Alignment(steps, steps, np.zeros(frames) if costs is None else costs, 0.0)


def test_the_score_curve_gives_fifty_at_its_midpoint_and_falls_with_cost() -> None:
    scores = [logistic_score(cost, 2.5, 0.25) for cost in (0.0, 2.5, 5.0)]

    assert scores[1] == 50.0
    assert scores[0] > 99 > 1 > scores[2]


def test_the_same_intonation_scores_full_marks() -> None:
    assert intonation(_features(), _features(), _diagonal(), SETTINGS) == pytest.approx(100.0)


def test_a_monotone_scores_low_on_intonation() -> None:
    flat = _features(pitch=np.random.default_rng(0).normal(scale=0.1, size=FRAMES))

    score = intonation(_features(), flat, _diagonal(), SETTINGS)

    assert score is not None
    assert score < 40


def test_intonation_is_not_judged_when_the_reference_is_unvoiced() -> None:
    unvoiced = _features(pitch=np.full(FRAMES, np.nan))

    assert intonation(unvoiced, _features(), _diagonal(), SETTINGS) is None


def test_an_unvoiced_rendition_of_a_voiced_reference_scores_zero_intonation() -> None:
    unvoiced = _features(pitch=np.full(FRAMES, np.nan))

    assert intonation(_features(), unvoiced, _diagonal(), SETTINGS) == 0.0


def test_the_same_loudness_contour_scores_full_marks_on_energy() -> None:
    reference = _features()
    alignment = _diagonal()

    score = energy(reference, reference, alignment, speech_steps(reference, reference, alignment, 35.0))

    assert score == pytest.approx(100.0)


def test_an_inverted_loudness_contour_scores_zero_on_energy() -> None:
    reference, inverted = _features(), _features(loudness=-10 - 8 * np.sin(np.arange(FRAMES) / 100 * 9))
    alignment = _diagonal()

    assert energy(reference, inverted, alignment, speech_steps(reference, inverted, alignment, 35.0)) == 0.0


def test_the_same_timing_scores_full_marks_on_rhythm() -> None:
    reference = _features()

    assert rhythm(reference, reference, FrameMap.of(_diagonal(), FRAMES), SETTINGS) == pytest.approx(100.0)


def test_speaking_twice_as_slowly_lowers_rhythm() -> None:
    reference, slow = _features(), _features(frames=2 * FRAMES)
    steps = np.arange(2 * FRAMES)
    stretched = Alignment(steps // 2, steps, np.zeros(2 * FRAMES), 0.0)

    assert rhythm(reference, slow, FrameMap.of(stretched, FRAMES), SETTINGS) < 70


def test_skipping_a_stretch_of_speech_lowers_completeness() -> None:
    reference = _features(loudness=np.full(FRAMES, -5.0))
    user = _features(loudness=np.full(FRAMES - 50, -5.0), frames=FRAMES - 50)
    reference_frames = np.concatenate([np.arange(100), np.arange(100, 150), np.arange(150, 200)])
    user_frames = np.concatenate([np.arange(100), np.full(50, 99), np.arange(100, 150)])
    skipping = Alignment(reference_frames, user_frames, np.zeros(FRAMES), 0.0)

    assert segment_completeness(reference, user, FrameMap.of(skipping, FRAMES), SETTINGS) == pytest.approx(
        75.0
    )


def test_overall_is_the_weighted_mean_of_the_aspects_that_were_judged() -> None:
    parts: dict[str, float | None] = {
        "pronunciation": 100.0,
        "intonation": None,
        "rhythm": 0.0,
        "energy": 0.0,
        "completeness": 0.0,
    }

    weights = ScoringSettings(
        weight_pronunciation=0.4,
        weight_intonation=0.2,
        weight_rhythm=0.15,
        weight_energy=0.1,
        weight_completeness=0.15,
    )

    assert overall(parts, weights) == pytest.approx(100 * 0.4 / 0.8)


WORDS = [WordTiming("one", 0.02, 0.5), WordTiming("two", 0.5, 1.0), WordTiming("three", 1.0, 1.9)]


def test_words_matched_frame_for_frame_are_ok() -> None:
    features = _features()
    alignment = _diagonal()

    results = judge_words(WORDS, features, features, alignment, FrameMap.of(alignment, FRAMES), SETTINGS)

    assert [result.status for result in results] == [WordStatus.OK] * 3
    assert [(result.user_start, result.user_end) for result in results] == [
        (0.02, 0.5),
        (0.5, 1.0),
        (1.0, 1.9),
    ]


def test_a_word_the_user_spends_no_time_on_is_omitted() -> None:
    reference, user = _features(), _features(frames=FRAMES - 50)
    reference_frames = np.arange(FRAMES)
    user_frames = np.concatenate([np.arange(50), np.full(50, 49), np.arange(50, 150)])
    skipping = Alignment(reference_frames, user_frames, np.zeros(FRAMES), 0.0)

    results = judge_words(WORDS, reference, user, skipping, FrameMap.of(skipping, FRAMES), SETTINGS)

    assert results[1].status is WordStatus.OMITTED


def test_a_word_whose_frames_match_badly_is_mispronounced() -> None:
    costs = np.concatenate([np.full(50, 0.5), np.full(50, 4.0), np.full(100, 0.5)])  # word two: frames 49-98
    alignment = _diagonal(costs=costs)
    features = _features()

    results = judge_words(WORDS, features, features, alignment, FrameMap.of(alignment, FRAMES), SETTINGS)

    assert results[1].status is WordStatus.MISPRONOUNCED
