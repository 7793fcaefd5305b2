"""Comparing a user's rendition with the reference: features, alignment, scores, per-word verdicts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy.typing as npt

from domain.voice.alignment import AlignmentSettings, align
from domain.voice.config import FeatureConfig
from domain.voice.contour import pitch_contour
from domain.voice.errors import Subject, VoiceAnalysisError
from domain.voice.features import Features, Utterance, measure
from domain.voice.framing import as_signal
from domain.voice.mapping import FrameMap
from domain.voice.result import ComparisonResult, Scores, Span, WordTiming
from domain.voice.scoring import (
    ScoringSettings,
    energy,
    intonation,
    overall,
    pronunciation,
    rhythm,
    segment_completeness,
    speech_steps,
)
from domain.voice.speaker import WarpSearch, normalised_to
from domain.voice.words import judge_words, word_completeness


class Stage(StrEnum):
    """The analysis stages a caller can report progress on, in order (decoding happens before)."""

    FEATURES = "features"
    ALIGNING = "aligning"
    SCORING = "scoring"


StageListener = Callable[[Stage], None]


@dataclass(frozen=True, slots=True)
class ComparisonSettings:
    """Tuning beyond the feature config; none of it changes stored features. ``contour_points`` caps
    the pitch contours' length."""

    alignment: AlignmentSettings = field(default_factory=AlignmentSettings)
    warp_search: WarpSearch = field(default_factory=WarpSearch)
    scoring: ScoringSettings = field(default_factory=ScoringSettings)
    contour_points: int = 200


def compare(
    user: npt.ArrayLike,
    reference: npt.ArrayLike,
    sample_rate: int,
    words: list[WordTiming] | None = None,
    config: FeatureConfig | None = None,
    *,
    settings: ComparisonSettings | None = None,
    on_stage: StageListener | None = None,
) -> ComparisonResult:
    """Compares two mono recordings at ``sample_rate`` (resampled to the config's rate if they differ).

    ``words`` are the reference's word timings (seconds on the reference recording). ``on_stage`` is
    called as each stage starts. Raises NoSpeechError or TooShortError (with ``subject`` naming the recording)
    and InvalidSamplesError for arrays no decoder produces.
    """
    config = config or FeatureConfig()
    _notify(on_stage, Stage.FEATURES)
    reference_features = _measure(reference, sample_rate, config, "reference").features
    utterance = _measure(user, sample_rate, config, "user")
    return _compare(reference_features, utterance, words, config, settings or ComparisonSettings(), on_stage)


def compare_with_features(
    user: npt.ArrayLike,
    sample_rate: int,
    reference: Features,
    words: list[WordTiming] | None = None,
    config: FeatureConfig | None = None,
    *,
    settings: ComparisonSettings | None = None,
    on_stage: StageListener | None = None,
) -> ComparisonResult:
    """``compare`` against stored reference features.

    Raises IncompatibleFeaturesError when they were computed under another feature version.
    """
    config = config or FeatureConfig()
    config.require_compatible(reference.version)
    _notify(on_stage, Stage.FEATURES)
    utterance = _measure(user, sample_rate, config, "user")
    return _compare(reference, utterance, words, config, settings or ComparisonSettings(), on_stage)


def _notify(listener: StageListener | None, stage: Stage) -> None:
    if listener is not None:
        listener(stage)


def _measure(samples: npt.ArrayLike, sample_rate: int, config: FeatureConfig, subject: Subject) -> Utterance:
    try:
        return measure(as_signal(samples, sample_rate, config.sample_rate), config)
    except VoiceAnalysisError as error:
        raise error.about(subject) from None


def _compare(
    reference: Features,
    utterance: Utterance,
    words: list[WordTiming] | None,
    config: FeatureConfig,
    settings: ComparisonSettings,
    on_stage: StageListener | None,
) -> ComparisonResult:
    _notify(on_stage, Stage.ALIGNING)
    user, warp = normalised_to(reference, utterance, config, settings.warp_search, settings.alignment)
    alignment = align(reference.mfcc, user.mfcc, settings.alignment)
    _notify(on_stage, Stage.SCORING)
    scoring = settings.scoring
    frame_map = FrameMap.of(alignment, reference.frame_count)
    spoken = speech_steps(reference, user, alignment, scoring.speech_floor_db)
    word_results = judge_words(words or [], reference, user, alignment, frame_map, scoring)
    aspects = {
        "pronunciation": pronunciation(alignment, spoken, scoring),
        "rhythm": rhythm(reference, user, frame_map, scoring),
        "energy": energy(reference, user, alignment, spoken),
        "completeness": word_completeness(word_results)
        if word_results
        else segment_completeness(reference, user, frame_map, scoring),
    }
    tone = intonation(reference, user, alignment, scoring)
    return ComparisonResult(
        feature_version=config.version,
        scores=Scores(
            overall=round(overall({**aspects, "intonation": tone}, scoring), 1),
            pronunciation=round(aspects["pronunciation"], 1),
            intonation=None if tone is None else round(tone, 1),
            rhythm=round(aspects["rhythm"], 1),
            energy=round(aspects["energy"], 1),
            completeness=round(aspects["completeness"], 1),
        ),
        words=word_results,
        pitch=pitch_contour(reference, user, alignment, settings.contour_points),
        reference_speech=Span(round(reference.offset_seconds, 3), round(reference.end_seconds, 3)),
        user_speech=Span(round(user.offset_seconds, 3), round(user.end_seconds, 3)),
        speaker_warp=warp,
        alignment_cost=round(alignment.normalised_cost, 4),
    )
