"""Scores 0-100 for each aspect of a rendition, measured along the alignment path."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from domain.voice.alignment import Alignment
from domain.voice.features import Features
from domain.voice.mapping import FrameMap

Vector = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class ScoringSettings:
    """Calibration of the score curves.

    Alignment costs are mean Euclidean distances between normalised MFCC frames; a cost of
    ``*_midpoint`` scores 50 and every ``*_width`` further moves the score along a logistic curve.
    A word is judged both by its cost and by its excess over the utterance's median step cost (the
    mismatch this speaker shows on every word); it is omitted when the user spends under
    ``omitted_below_ratio`` of its expected time on it, or under ``squeezed_below_ratio`` and it is
    badly matched too.

    The pronunciation curve and the weights of the overall score were fitted by ``make eval`` on human
    recordings (bench/evaluation/calibration.json, which a test keeps equal to these defaults): same
    text against different text, for separate takes by one speaker and across three speakers. The word
    curves were fitted on espeak-ng renditions (tests/integration/voice): words of correct renditions
    score under 50 about 2% of the time, substituted words over 50 about 10% of the time.
    """

    pronunciation_midpoint: float = 3.1
    pronunciation_width: float = 0.2
    word_midpoint: float = 2.9
    word_width: float = 0.3
    word_excess_midpoint: float = 1.0
    word_excess_width: float = 0.25
    mispronounced_below: float = 50.0
    omitted_below_ratio: float = 0.4
    squeezed_below_ratio: float = 0.6
    speech_floor_db: float = 35.0
    min_voiced_steps: int = 20
    pitch_error_semitones: float = 2.0
    tempo_tolerance: float = 0.5
    local_tempo_tolerance: float = 0.4
    segment_seconds: float = 0.25
    min_pause_seconds: float = 0.1
    weight_pronunciation: float = 0.7
    weight_intonation: float = 0.1
    weight_rhythm: float = 0.05
    weight_energy: float = 0.1
    weight_completeness: float = 0.05


def logistic_score(cost: float, midpoint: float, width: float) -> float:
    return 100.0 / (1.0 + math.exp(min((cost - midpoint) / width, 700.0)))


def speech_steps(reference: Features, user: Features, alignment: Alignment, floor_db: float) -> Mask:
    """Path steps where either side is speech rather than a pause or a silence."""
    spoken: Mask = (reference.energy_db[alignment.reference_frames] > -floor_db) | (
        user.energy_db[alignment.user_frames] > -floor_db
    )
    return spoken


def pronunciation(alignment: Alignment, spoken: Mask, settings: ScoringSettings) -> float:
    costs = alignment.step_costs[spoken] if spoken.any() else alignment.step_costs
    return logistic_score(float(costs.mean()), settings.pronunciation_midpoint, settings.pronunciation_width)


def intonation(
    reference: Features, user: Features, alignment: Alignment, settings: ScoringSettings
) -> float | None:
    """Agreement of the pitch movements where both voices are voiced.

    Half correlation of the contours, a quarter the ratio of their spreads (a monotone has none), a quarter
    the RMS error in semitones. None when the reference has too few voiced frames to judge.
    """
    reference_pitch = reference.pitch_semitones[alignment.reference_frames]
    user_pitch = user.pitch_semitones[alignment.user_frames]
    if np.count_nonzero(np.isfinite(reference_pitch)) < settings.min_voiced_steps:
        return None
    both = np.isfinite(reference_pitch) & np.isfinite(user_pitch)
    if np.count_nonzero(both) < settings.min_voiced_steps:
        return 0.0
    expected, actual = reference_pitch[both], user_pitch[both]
    expected_spread, actual_spread = float(expected.std()), float(actual.std())
    correlation = _correlation(expected, actual)
    spread = min(expected_spread, actual_spread) / max(expected_spread, actual_spread, 1e-9)
    error = math.exp(
        -((float(np.sqrt(np.mean((expected - actual) ** 2))) / settings.pitch_error_semitones) ** 2)
    )
    return 100.0 * (0.5 * max(correlation, 0.0) + 0.25 * spread + 0.25 * error)


def energy(reference: Features, user: Features, alignment: Alignment, spoken: Mask) -> float:
    """Correlation of the loudness contours along the path, over speech."""
    correlation = _correlation(
        reference.energy_db[alignment.reference_frames][spoken], user.energy_db[alignment.user_frames][spoken]
    )
    return 100.0 * max(correlation, 0.0)


def rhythm(reference: Features, user: Features, frame_map: FrameMap, settings: ScoringSettings) -> float:
    """Overall tempo (40%), the timing of each stretch relative to that tempo (35%) and pauses (25%)."""
    tempo = user.frame_count / reference.frame_count
    tempo_part = math.exp(-((math.log(tempo) / settings.tempo_tolerance) ** 2))
    stretches = _segment_ratios(reference, frame_map, settings.segment_seconds) / tempo
    local_error = float(np.sqrt(np.mean(np.log(np.maximum(stretches, 1e-3)) ** 2))) if stretches.size else 0.0
    local_part = math.exp(-((local_error / settings.local_tempo_tolerance) ** 2))
    pause_part = _pause_agreement(reference, user, frame_map, settings)
    return 100.0 * (0.4 * tempo_part + 0.35 * local_part + 0.25 * pause_part)


def segment_completeness(
    reference: Features, user: Features, frame_map: FrameMap, settings: ScoringSettings
) -> float:
    """Without word timings: the share of spoken stretches of the reference the user did not skip."""
    tempo = user.frame_count / reference.frame_count
    ratios = _segment_ratios(
        reference, frame_map, settings.segment_seconds, spoken_above=-settings.speech_floor_db
    )
    if ratios.size == 0:
        return 100.0
    return 100.0 * float(np.mean(ratios / tempo >= settings.omitted_below_ratio))


def overall(parts: Mapping[str, float | None], settings: ScoringSettings) -> float:
    """The weighted mean of the aspects that could be judged."""
    weights = {
        "pronunciation": settings.weight_pronunciation,
        "intonation": settings.weight_intonation,
        "rhythm": settings.weight_rhythm,
        "energy": settings.weight_energy,
        "completeness": settings.weight_completeness,
    }
    judged = {name: value for name, value in parts.items() if value is not None}
    total = sum(weights[name] for name in judged)
    return sum(weights[name] * value for name, value in judged.items()) / total


def _correlation(first: Vector, second: Vector) -> float:
    if first.size < 2 or first.std() < 1e-9 or second.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(first, second)[0, 1])


def _segment_ratios(
    reference: Features, frame_map: FrameMap, seconds: float, spoken_above: float | None = None
) -> Vector:
    """User frames per reference frame for consecutive stretches of ``seconds`` of the reference."""
    length = max(1, round(seconds / reference.hop_seconds))
    count = reference.frame_count // length
    starts = np.arange(count) * length
    if spoken_above is not None and count:
        loudness = reference.energy_db[: count * length].reshape(count, length).mean(axis=1)
        starts = starts[loudness > spoken_above]
    ratios: Vector = (frame_map.boundaries(starts + length) - frame_map.boundaries(starts)) / length
    return ratios


def _pause_agreement(
    reference: Features, user: Features, frame_map: FrameMap, settings: ScoringSettings
) -> float:
    """Dice overlap of pause frames, the reference's carried onto the user's frames; 1 when neither pauses."""
    floor, shortest = settings.speech_floor_db, settings.min_pause_seconds
    expected = frame_map.covered(reference.pauses(floor, shortest), user.frame_count)
    actual = user.pauses(floor, shortest)
    either = int(np.count_nonzero(expected)) + int(np.count_nonzero(actual))
    return 1.0 if either == 0 else 2.0 * int(np.count_nonzero(expected & actual)) / either
