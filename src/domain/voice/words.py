"""Per-word verdicts: each reference word carried onto the user's recording, scored and classified."""

from __future__ import annotations

import numpy as np

from domain.voice.alignment import Alignment
from domain.voice.features import Features
from domain.voice.mapping import FrameMap, snap_to_pauses
from domain.voice.result import WordResult, WordStatus, WordTiming
from domain.voice.scoring import ScoringSettings, logistic_score


def judge_words(
    words: list[WordTiming],
    reference: Features,
    user: Features,
    alignment: Alignment,
    frame_map: FrameMap,
    settings: ScoringSettings,
) -> tuple[WordResult, ...]:
    """Each word's verdict (see ScoringSettings); expected times are at the user's overall tempo."""
    if not words:
        return ()
    tempo = user.frame_count / reference.frame_count
    positions = np.array([[reference.frame_at(word.start), reference.frame_at(word.end)] for word in words])
    # Frames [starts, stops) are centred within each word; a boundary at position p precedes frame ceil(p).
    edges = np.clip(np.ceil(positions), 0, reference.frame_count).astype(np.intp)
    starts, stops = edges[:, 0], np.maximum(edges[:, 0], edges[:, 1])
    reference_pauses = reference.pauses(settings.speech_floor_db, settings.min_pause_seconds)
    user_pauses = user.pauses(settings.speech_floor_db, settings.min_pause_seconds)
    user_starts = snap_to_pauses(frame_map.positions(positions[:, 0]), starts, reference_pauses, user_pauses)
    user_stops = snap_to_pauses(frame_map.positions(positions[:, 1]), stops, reference_pauses, user_pauses)
    first_steps = np.searchsorted(alignment.reference_frames, starts, side="left")
    stop_steps = np.searchsorted(alignment.reference_frames, stops, side="left")
    cumulative = np.concatenate(([0.0], np.cumsum(alignment.step_costs)))
    typical = float(np.median(alignment.step_costs))
    results = []
    for index, word in enumerate(words):
        first, stop = int(first_steps[index]), int(stop_steps[index])
        if stop > first:
            cost = float(cumulative[stop] - cumulative[first]) / (stop - first)
        else:
            cost = float(alignment.step_costs[min(first, alignment.length - 1)])
        score = min(
            logistic_score(cost, settings.word_midpoint, settings.word_width),
            logistic_score(cost - typical, settings.word_excess_midpoint, settings.word_excess_width),
        )
        expected = (stops[index] - starts[index]) * tempo
        spent = (user_stops[index] - user_starts[index]) / expected if expected > 0 else 1.0
        badly_matched = score < settings.mispronounced_below
        if spent < settings.omitted_below_ratio or (spent < settings.squeezed_below_ratio and badly_matched):
            status, score = WordStatus.OMITTED, 0.0
        elif badly_matched:
            status = WordStatus.MISPRONOUNCED
        else:
            status = WordStatus.OK
        results.append(
            WordResult(
                text=word.text,
                reference_start=word.start,
                reference_end=word.end,
                user_start=round(user.frame_time(float(user_starts[index])), 3),
                user_end=round(user.frame_time(float(user_stops[index])), 3),
                score=round(score, 1),
                status=status,
            )
        )
    return tuple(results)


def word_completeness(results: tuple[WordResult, ...]) -> float:
    return 100.0 * sum(result.status is not WordStatus.OMITTED for result in results) / len(results)
