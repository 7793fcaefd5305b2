"""Forced alignment of a reference's text to its recording: every word of the text timed, none dropped.

espeak-ng says the text (adapters.audio.espeak, every word of domain.wording's word list timed, words it
merges into a neighbour's event split off in proportion to their length), and the voice comparison's
alignment (domain.voice, dynamic time warping of the two recordings' features) carries each word's start
and end onto the reference recording. The times are then made a valid word list: in order, within the
recording, each word at least ``MIN_WORD_SECONDS`` long and none overlapping the next.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from adapters.audio.decoding import decode_audio
from adapters.audio.espeak import SAMPLE_RATE, SpeechUnavailableError, Voice, synthesize
from domain.catalog import Word
from domain.errors import InvalidInputError
from domain.voice import ComparisonSettings, FeatureConfig, VoiceAnalysisError, WordTiming, compare
from domain.wording import words_of

MIN_WORD_SECONDS = 0.02
TEMPLATE_VOICE = Voice("en-us")


class AlignmentUnavailableError(RuntimeError):
    """The synthesiser the aligner needs is missing (espeak-ng not installed)."""


class EspeakForcedAligner:
    """Times the words of a text on a recording of it. Blocking and CPU-bound (about 0.1 s per 5 s)."""

    def __init__(self, config: FeatureConfig | None = None, voice: Voice = TEMPLATE_VOICE) -> None:
        self._config = config or FeatureConfig()
        self._voice = voice

    def align(self, audio: bytes, text: str) -> list[Word]:
        """The words of ``text`` in order with their spans (seconds) in the recording ``audio``.

        Raises InvalidInputError when the text has no words, the recording holds no usable speech or is
        too short to give every word its minimum span.
        """
        if not words_of(text):
            raise InvalidInputError("text", "has no words to align")
        samples = decode_audio(audio, target_rate=SAMPLE_RATE).samples.astype(np.float64)
        duration = samples.size / SAMPLE_RATE
        try:
            template = synthesize(text, self._voice)
        except SpeechUnavailableError as error:
            raise AlignmentUnavailableError(str(error)) from error
        timings = [WordTiming(word.text, word.start, word.end) for word in template.words]
        try:
            result = compare(
                samples,
                template.samples.astype(np.float64),
                SAMPLE_RATE,
                timings,
                self._config,
                settings=ComparisonSettings(),
            )
        except VoiceAnalysisError as error:
            raise InvalidInputError(
                "file", f"the reference audio has no usable speech: {error.detail}"
            ) from error
        spans = [(word.user_start, word.user_end) for word in result.words]
        return [
            Word(index=index, text=word.text, start=start, end=end)
            for index, (word, (start, end)) in enumerate(
                zip(template.words, valid_spans(spans, duration), strict=True)
            )
        ]


def valid_spans(
    spans: Sequence[tuple[float, float]], duration: float, minimum: float = MIN_WORD_SECONDS
) -> list[tuple[float, float]]:
    """``spans`` made a valid word list on a recording of ``duration`` seconds, moving them as little as
    needed: clamped to the recording, in order, each at least ``minimum`` long (ms precision), none
    overlapping the next. Raises InvalidInputError when the recording cannot hold that many words."""
    step = round(minimum, 3)
    if len(spans) * step > duration + 1e-9:
        raise InvalidInputError(
            "file", f"the reference audio ({duration:.2f} s) is too short to time {len(spans)} words"
        )
    limit = int(duration * 1000) / 1000
    bounds: list[list[float]] = []
    floor = 0.0
    for start, end in spans:  # forwards: in order, each at least the minimum long
        begin = max(round(min(max(start, 0.0), limit), 3), floor)
        finish = max(round(min(max(end, 0.0), limit), 3), round(begin + step, 3))
        bounds.append([begin, finish])
        floor = finish
    ceiling = limit
    for bound in reversed(bounds):  # backwards: the words pushed past the end move back inside
        bound[1] = min(bound[1], ceiling)
        bound[0] = min(bound[0], round(bound[1] - step, 3))
        ceiling = bound[0]
    return [(begin, finish) for begin, finish in bounds]
