"""Forced alignment of a reference's text to its recording, on real espeak-ng speech in other voices."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.audio.forced_alignment import EspeakForcedAligner, valid_spans
from adapters.audio.reference_processing import ReferenceAudioProcessor
from domain.catalog import Word, check_word_timings
from domain.errors import InvalidInputError
from domain.wording import words_of
from tests.support.encoding import encode_audio
from tests.support.speech import SAMPLE_RATE, Speech, Voice, synthesize

# espeak-ng gives "not" and both "the"s no word event of their own (they share a neighbour's).
MERGED = "We do not get to choose the time we are given."
WHEEL = "Keep your eyes on the road and your hands on the wheel."
FOX = "The quick brown fox jumps over the lazy dog, and then it sleeps."
LEAD, TAIL = 0.5, 0.4
TOLERANCE = 0.12  # seconds, every boundary
MEDIAN_TOLERANCE = 0.03


def _recording(speech: Speech) -> bytes:
    """The speech with silence before and after, as a WAV upload."""
    silence = np.zeros(round(LEAD * SAMPLE_RATE), np.float32)
    after = np.zeros(round(TAIL * SAMPLE_RATE), np.float32)
    return encode_audio(np.concatenate([silence, speech.samples, after]), SAMPLE_RATE, "wav")


def _check_against_truth(words: list[Word], speech: Speech, text: str) -> None:
    assert [word.text for word in words] == words_of(text)
    check_word_timings(words)
    assert words[-1].end <= LEAD + speech.duration + TAIL
    errors = [
        abs(got - (LEAD + truth))
        for word, spoken in zip(words, speech.words, strict=True)
        for got, truth in ((word.start, spoken.start), (word.end, spoken.end))
    ]
    assert max(errors) <= TOLERANCE, errors
    assert float(np.median(errors)) <= MEDIAN_TOLERANCE, errors


@pytest.mark.parametrize("text", [MERGED, WHEEL, FOX])
@pytest.mark.parametrize(
    "voice", [Voice("en-us+f3", rate=150), Voice("en-gb"), Voice("en-us+m3", rate=180)], ids=str
)
def test_every_word_is_timed_in_order_near_the_synthesisers_own_word_events(text: str, voice: Voice) -> None:
    speech = synthesize(text, voice)
    words = EspeakForcedAligner().align(_recording(speech), text)
    _check_against_truth(words, speech, text)


def test_words_espeak_merges_into_a_neighbour_get_their_own_timing() -> None:
    speech = synthesize(WHEEL, Voice("en-gb"))
    words = EspeakForcedAligner().align(_recording(speech), WHEEL)
    the = [word for word in words if word.text == "the"]
    assert len(the) == 2
    assert all(word.end - word.start >= 0.02 for word in the)
    on_the = [(words[i], words[i + 1]) for i in range(len(words) - 1) if words[i + 1].text == "the"]
    assert all(on.end <= the_.start for on, the_ in on_the)


def test_the_child_process_aligns_and_reports_unusable_audio_as_invalid_input() -> None:
    processor = ReferenceAudioProcessor()
    try:
        speech = synthesize(MERGED, Voice("en-us+f3", rate=150))
        _check_against_truth(processor.align(_recording(speech), MERGED), speech, MERGED)
        silence = encode_audio(np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE, "wav")
        with pytest.raises(InvalidInputError) as raised:
            processor.align(silence, MERGED)
        assert raised.value.field == "file"
        assert processor.version.startswith("voice-features/")
    finally:
        processor.close()


def test_spans_are_made_valid_moving_them_as_little_as_needed() -> None:
    assert valid_spans([(0.1, 0.3), (0.3, 0.5)], 1.0) == [(0.1, 0.3), (0.3, 0.5)]
    # overlapping, reversed, collapsed, negative and past-the-end spans
    assert valid_spans([(-0.2, 0.4), (0.3, 0.3), (0.2, 0.1), (0.9, 1.5)], 1.0) == [
        (0.0, 0.4),
        (0.4, 0.42),
        (0.42, 0.44),
        (0.9, 1.0),
    ]
    # squeezed at the end: the last words move back inside the recording
    assert valid_spans([(0.95, 0.99), (0.99, 0.99), (0.99, 0.99)], 1.0) == [
        (0.94, 0.96),
        (0.96, 0.98),
        (0.98, 1.0),
    ]
    with pytest.raises(InvalidInputError):
        valid_spans([(0.0, 0.01)] * 60, 1.0)
