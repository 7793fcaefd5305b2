"""The experiments: which recordings are compared with which, and what each comparison is scored on."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import signal

from bench.evaluation import transforms
from bench.evaluation.metrics import Spread, boundary_errors_ms, detection, median_gap, roc_auc
from bench.evaluation.sources import SAMPLE_RATE, Clip
from domain.voice import (
    ComparisonResult,
    ComparisonSettings,
    FeatureConfig,
    Scores,
    VoiceAnalysisError,
    WordStatus,
    WordTiming,
    compare,
)
from domain.wording import normalise_word, words_of

__all__ = ["words_of"]

Words = list[WordTiming]
Aligner = Callable[[Clip], Words]


def text_key(text: str) -> str:
    return " ".join(normalise_word(word) for word in words_of(text))


def compare_over_band(
    user: np.ndarray,
    reference: np.ndarray,
    words: Words | None,
    band_hz: float,
    config: FeatureConfig,
    settings: ComparisonSettings,
) -> ComparisonResult:
    rate = SAMPLE_RATE
    if band_hz < SAMPLE_RATE / 2:
        rate = round(2 * band_hz)
        user, reference = (signal.resample_poly(samples, rate, SAMPLE_RATE) for samples in (user, reference))
    return compare(user, reference, rate, words, config, settings=settings)


@dataclass(frozen=True, slots=True)
class Engine:
    """The comparison under evaluation, with the settings being measured."""

    settings: ComparisonSettings = field(default_factory=ComparisonSettings)
    config: FeatureConfig = field(default_factory=FeatureConfig)

    def compare(
        self, user: np.ndarray, reference: np.ndarray, words: Words | None, band_hz: float
    ) -> ComparisonResult:
        """As the analysis server compares: over the band the narrower recording carries (both
        resampled to twice ``band_hz`` when it is under the full band; see AudioAnalysis)."""
        return compare_over_band(user, reference, words, band_hz, self.config, self.settings)

    def overall_or_none(
        self, user: np.ndarray, reference: np.ndarray, words: Words | None, band_hz: float
    ) -> float | None:
        """The overall score, or None when the engine refuses the recording (as it would an upload)."""
        try:
            return self.compare(user, reference, words, band_hz).scores.overall
        except VoiceAnalysisError:
            return None


@dataclass(frozen=True, slots=True)
class Separation:
    """Overall scores of same-text pairs (positives) and different-text pairs (negatives)."""

    positives: list[float]
    negatives: list[float]
    scores: list[Scores] = field(default_factory=list)
    same_text: list[bool] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        return {
            "auc": round(roc_auc(self.positives, self.negatives), 3),
            "median_gap": round(median_gap(self.positives, self.negatives), 1),
            "median_same": round(float(np.median(self.positives)), 1),
            "median_different": round(float(np.median(self.negatives)), 1),
            "same_p10": round(float(np.percentile(self.positives, 10)), 1),
            "different_p90": round(float(np.percentile(self.negatives, 90)), 1),
            "pairs_same": len(self.positives),
            "pairs_different": len(self.negatives),
        }


def separate_takes(clips: Sequence[Clip]) -> list[list[Clip]]:
    """Groups of recordings of the same text by one speaker, with byte-identical copies left out."""
    groups: dict[str, list[Clip]] = {}
    for clip in clips:
        group = groups.setdefault(text_key(clip.text), [])
        if text_key(clip.text) and not any(_same_audio(clip, other) for other in group):
            group.append(clip)
    return [group for group in groups.values() if len(group) > 1]


def _same_audio(first: Clip, second: Clip) -> bool:
    return first.samples.size == second.samples.size and bool(np.allclose(first.samples, second.samples))


def separation(
    engine: Engine,
    references: Sequence[tuple[Clip, np.ndarray, Words]],
    users: Sequence[Clip],
    negatives_per_reference: int,
    seed: int,
    include_itself: bool = False,
) -> Separation:
    """Each reference (clip, the audio to use, its words) against every user recording of its text by
    another take or speaker (the clip itself too when ``include_itself``: its audio was replaced), and
    against ``negatives_per_reference`` recordings of other texts of a similar length (between half
    and twice as long)."""
    rng = random.Random(seed)
    result = Separation([], [])
    positives, negatives = result.positives, result.negatives
    for clip, audio, words in references:
        same = [
            user
            for user in users
            if (include_itself or user is not clip) and text_key(user.text) == text_key(clip.text)
        ]
        for user in same:
            scores = engine.compare(
                user.samples, audio, words, min(clip.bandwidth_hz, user.bandwidth_hz)
            ).scores
            positives.append(scores.overall)
            result.scores.append(scores)
            result.same_text.append(True)
        others = [
            user
            for user in users
            if text_key(user.text) != text_key(clip.text) and 0.5 <= user.duration / clip.duration <= 2.0
        ]
        for user in rng.sample(others, min(negatives_per_reference, len(others))):
            scores = engine.compare(
                user.samples, audio, words, min(clip.bandwidth_hz, user.bandwidth_hz)
            ).scores
            negatives.append(scores.overall)
            result.scores.append(scores)
            result.same_text.append(False)
    return result


@dataclass(frozen=True, slots=True)
class Condition:
    name: str
    alter: Callable[[Clip], transforms.Altered]


def conditions(noise_voices: Sequence[np.ndarray]) -> list[Condition]:
    """The alterations with known ground truth, clean first."""

    def noisy(kind: str, snr: float) -> Callable[[Clip], transforms.Altered]:
        def alter(clip: Clip) -> transforms.Altered:
            size = clip.samples.size
            noise = transforms.white_noise(size) if kind == "white" else transforms.babble(noise_voices, size)
            return transforms.with_noise(clip.samples, noise, snr)

        return alter

    return [
        Condition("clean", lambda clip: transforms.unchanged(clip.samples)),
        *(
            Condition(f"tempo {factor}", lambda clip, factor=factor: transforms.tempo(clip.samples, factor))
            for factor in (0.8, 0.9, 1.1, 1.25)
        ),
        Condition("padding 0.6 s + 0.8 s", lambda clip: transforms.padded(clip.samples, 0.6, 0.8)),
        Condition(
            "tempo 1.25 + padding",
            lambda clip: _then(
                transforms.tempo(clip.samples, 1.25), lambda s: transforms.padded(s, 0.6, 0.8)
            ),
        ),
        *(
            Condition(
                f"pitch {shift:+d} st",
                lambda clip, shift=shift: transforms.pitch_shifted(clip.samples, shift),
            )
            for shift in (-3, 3)
        ),
        *(
            Condition(f"{kind} noise {snr} dB", noisy(kind, snr))
            for kind in ("white", "babble")
            for snr in (20, 10)
        ),
        Condition("reverberation 0.5 s", lambda clip: transforms.reverberant(clip.samples)),
        Condition("telephone band", lambda clip: transforms.telephone(clip.samples)),
        Condition("clipping at 30 %", lambda clip: transforms.clipped(clip.samples)),
    ]


def _then(
    first: transforms.Altered, second: Callable[[np.ndarray], transforms.Altered]
) -> transforms.Altered:
    after = second(first.samples)
    return transforms.Altered(after.samples, lambda time: after.time_map(first.time_map(time)))


@dataclass(frozen=True, slots=True)
class ConditionFigures:
    boundary_ms: Spread
    overall_mean: float
    overall_min: float
    overall_delta: float
    words_ok: float
    false_omissions: float


def under_conditions(
    engine: Engine, clips: Sequence[tuple[Clip, Words]], all_conditions: Sequence[Condition]
) -> dict[str, ConditionFigures]:
    """Each clip as its own reference, the altered clip as the user: boundary errors against the times
    the alteration moved the words to, the overall score and its change from the unaltered clip."""
    figures = {}
    clean: list[float] = []
    for condition in all_conditions:
        errors: list[float] = []
        overall, ok, omitted, total = [], 0, 0, 0
        for clip, words in clips:
            altered = condition.alter(clip)
            result = engine.compare(altered.samples, clip.samples, words, clip.bandwidth_hz)
            predicted = [time for word in result.words for time in (word.user_start, word.user_end)]
            truth = [altered.time_map(time) for word in words for time in (word.start, word.end)]
            errors.extend(boundary_errors_ms(predicted, truth))
            overall.append(result.scores.overall)
            ok += sum(word.status is WordStatus.OK for word in result.words)
            omitted += sum(word.status is WordStatus.OMITTED for word in result.words)
            total += len(result.words)
        if not clean:
            clean = overall
        figures[condition.name] = ConditionFigures(
            boundary_ms=Spread.of(errors),
            overall_mean=float(np.mean(overall)),
            overall_min=float(np.min(overall)),
            overall_delta=float(np.mean(np.subtract(overall, clean))),
            words_ok=ok / total,
            false_omissions=omitted / total,
        )
    return figures


def degradation_on_takes(
    engine: Engine, pairs: Sequence[tuple[Clip, Words, Clip]], all_conditions: Sequence[Condition]
) -> dict[str, dict[str, float]]:
    """How far each alteration of the user's take moves the overall score against another take."""
    clean = [
        engine.compare(user.samples, reference.samples, words, _band(reference, user)).scores.overall
        for reference, words, user in pairs
    ]
    moved: dict[str, dict[str, float]] = {}
    for condition in all_conditions[1:]:
        deltas, refused = [], 0
        for (reference, words, user), before in zip(pairs, clean, strict=True):
            after = engine.overall_or_none(
                condition.alter(user).samples, reference.samples, words, _band(reference, user)
            )
            if after is None:
                refused += 1
            else:
                deltas.append(after - before)
        moved[condition.name] = {
            "median_delta": round(float(np.median(deltas)), 1),
            "mean_delta": round(float(np.mean(deltas)), 1),
            "worst_delta": round(float(np.min(deltas)), 1),
            "refused": refused,
        }
    return {"clean_median": {"overall": round(float(np.median(clean)), 1)}, **moved}


def omissions_and_insertions(
    engine: Engine, clips: Sequence[tuple[Clip, Words]], fillers: Sequence[Clip], seed: int
) -> dict[str, object]:
    """One interior word cut out of each clip (it should come back omitted, no other word should), and
    one word of another recording spliced between two words (no word should come back omitted)."""
    rng = random.Random(seed)
    cut_flags, cut_targets, insert_flags, insert_targets = [], [], [], []
    inserted_errors: list[float] = []
    for clip, words in clips:
        index = rng.randrange(1, len(words) - 1)
        altered = transforms.without_span(clip.samples, words[index].start, words[index].end)
        result = engine.compare(altered.samples, clip.samples, words, clip.bandwidth_hz)
        cut_flags.append([word.status is WordStatus.OMITTED for word in result.words])
        cut_targets.append(index)
        filler = rng.choice(fillers)
        gap = rng.randrange(1, len(words))
        altered = transforms.with_insert(clip.samples, words[gap].start, filler.samples)
        result = engine.compare(altered.samples, clip.samples, words, _band(clip, filler))
        insert_flags.append([word.status is WordStatus.OMITTED for word in result.words])
        insert_targets.append(None)
        predicted = [time for word in result.words for time in (word.user_start, word.user_end)]
        truth = [altered.time_map(time) for word in words for time in (word.start, word.end)]
        inserted_errors.extend(boundary_errors_ms(predicted, truth))
    omission = detection(cut_flags, cut_targets)
    insertion = detection(insert_flags, insert_targets)
    return {
        "omission_recall": round(omission.recall, 3),
        "false_omissions_per_word": round(omission.false_alarm_rate, 3),
        "omission_trials": omission.events,
        "false_omissions_per_word_with_an_inserted_word": round(insertion.false_alarm_rate, 3),
        "boundary_ms_with_an_inserted_word": _spread(inserted_errors),
        "insertion_detection": "not reported by the engine (no verdict for words the reference lacks)",
    }


def _band(first: Clip, second: Clip) -> float:
    return min(first.bandwidth_hz, second.bandwidth_hz)


def _spread(values: list[float]) -> dict[str, float]:
    spread = Spread.of(values)
    return {"median": round(spread.median, 1), "p90": round(spread.p90, 1), "count": spread.count}


def pairs_within(groups: Sequence[Sequence[Clip]]) -> list[tuple[Clip, Clip]]:
    return [pair for group in groups for pair in itertools.permutations(group, 2)]


def phone_level(
    engine: Engine, pairs: Sequence[tuple[Clip, Words, Clip, Words]], fillers: Sequence[Clip], seed: int
) -> dict[str, object]:
    """Issue 13 part 5: pocketsphinx's word and phone alignment with a GOP score per phone beside the
    DTW engine (see bench.evaluation.phones). Each pair is a reference take and another take of its text
    (the user), each with its espeak-ng + DTW word times:

    - agreement: where each method puts the user take's word boundaries (no ground truth on human
      speech; the two methods share nothing, so their gap bounds how far either can be off);
    - consistency under tempo 1.25 + padding: each method's boundaries on the altered user take against
      its own boundaries on the unaltered take carried through the alteration (DTW against the
      reference take, pocketsphinx against the text);
    - an interior word of the user take cut out, or replaced by a digit another speaker says: ROC AUC of
      the altered word against the intact words, by DTW word score (against the reference take) and by
      pocketsphinx word GOP (its lowest phone's, against the text);
    - CPU seconds per audio second of the pocketsphinx alignment with its phone loop.
    """
    import time

    from bench.evaluation.phones import SphinxAligner, UnalignableError, word_flag_auc

    sphinx = SphinxAligner()
    rng = random.Random(seed)
    agreement: list[float] = []
    consistency: dict[str, list[float]] = {"dtw": [], "pocketsphinx": []}
    methods = ("dtw word score", "pocketsphinx word GOP (lowest phone)", "pocketsphinx mean phone GOP")
    badness: dict[str, dict[str, list[list[float]]]] = {
        kind: {method: [] for method in methods} for kind in ("cut", "replaced")
    }
    targets: dict[str, list[int]] = {"cut": [], "replaced": []}
    unknown_words, unaligned, cpu, audio_seconds = 0, 0, 0.0, 0.0
    stretched = next(c for c in conditions([]) if c.name == "tempo 1.25 + padding")
    for reference, words, user, user_words in pairs:
        if not sphinx.knows(user.text) or len(words) < 3:
            unknown_words += 1
            continue
        band = min(reference.bandwidth_hz, user.bandwidth_hz)
        moved = stretched.alter(user)
        try:
            started = time.process_time()
            clean = sphinx.align(user.samples, user.text)
            cpu += time.process_time() - started
            audio_seconds += user.duration
            again = sphinx.align(moved.samples, user.text)
        except UnalignableError:
            unaligned += 1
            continue
        agreement.extend(boundary_errors_ms(_bounds(clean), _bounds(user_words)))
        consistency["pocketsphinx"].extend(
            boundary_errors_ms(_bounds(again), [moved.time_map(t) for t in _bounds(clean)])
        )
        before = engine.compare(user.samples, reference.samples, words, band).words
        after = engine.compare(moved.samples, reference.samples, words, band).words
        consistency["dtw"].extend(
            boundary_errors_ms(
                [t for w in after for t in (w.user_start, w.user_end)],
                [moved.time_map(t) for w in before for t in (w.user_start, w.user_end)],
            )
        )
        index = rng.randrange(1, len(words) - 1)
        filler = rng.choice(fillers)
        cut = transforms.without_span(user.samples, user_words[index].start, user_words[index].end)
        replaced = transforms.with_insert(cut.samples, user_words[index].start, filler.samples)
        for kind, altered in (("cut", cut), ("replaced", replaced)):
            result = engine.compare(altered.samples, reference.samples, words, min(band, filler.bandwidth_hz))
            try:
                aligned: list[Any] | None = sphinx.align(altered.samples, user.text)
            except UnalignableError:
                aligned = None
            badness[kind][methods[0]].append([-word.score for word in result.words])
            # A recording pocketsphinx cannot align at all flags every word equally.
            badness[kind][methods[1]].append([-w.gop for w in aligned] if aligned else [0.0] * len(words))
            badness[kind][methods[2]].append(
                [-w.mean_gop for w in aligned] if aligned else [0.0] * len(words)
            )
            targets[kind].append(index)
    figures: dict[str, object] = {
        "pairs": len(pairs) - unknown_words - unaligned,
        "pairs skipped: a word missing from the pronouncing dictionary": unknown_words,
        "pairs skipped: pocketsphinx found no alignment": unaligned,
        "word_boundary_agreement_ms (pocketsphinx vs espeak-ng + DTW)": _spread(agreement),
        "boundary_consistency_ms under tempo 1.25 + padding": {
            method: _spread(errors) for method, errors in consistency.items()
        },
        "pocketsphinx_cpu_seconds_per_audio_second": round(cpu / audio_seconds, 3) if audio_seconds else None,
    }
    aucs = {
        kind: {
            method: round(word_flag_auc(scores, targets[kind]), 3) for method, scores in badness[kind].items()
        }
        for kind in ("cut", "replaced")
        if targets[kind]
    }
    for kind, by_method in aucs.items():
        figures[f"altered_word_auc ({kind} word)"] = by_method
    better = bool(aucs) and all(
        max(by_method[method] for method in methods[1:]) > by_method[methods[0]]
        for by_method in aucs.values()
    )
    figures["verdict"] = (
        "pocketsphinx GOP flags altered words better than DTW: worth reporting per-phone scores"
        if better
        else "pocketsphinx GOP does not flag altered words better than DTW: the comparison keeps DTW"
    )
    return figures


def _bounds(words: Sequence[Any]) -> list[float]:
    return [time for word in words for time in (word.start, word.end)]
