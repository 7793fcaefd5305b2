"""The voice comparison on real speech: espeak-ng renditions in several voices, rates and pitch ranges."""

from __future__ import annotations

import numpy as np
import pytest

from domain.voice import ComparisonResult, WordResult, WordStatus, WordTiming, compare
from tests.support.speech import Speech, SpokenWord, Voice, synthesize

FOX = "The quick brown fox jumps over the lazy dog, and then it sleeps."
SHELLS = "She sells sea shells by the sea shore every summer morning."
UMBRELLA = "Please bring the yellow umbrella to the station tomorrow morning."
STELLA = (
    "Please call Stella and ask her to bring these things with her from the store: six spoons of fresh "
    "snow peas, five thick slabs of blue cheese, and maybe a snack for her brother Bob."
)

REFERENCE = Voice("en-us")
WOMAN = Voice("en-us+f3", rate=150)
OTHER_MAN = Voice("en-us+m3", rate=180)
BRITISH = Voice("en-gb")


def _compare(user: Speech, reference: Speech) -> ComparisonResult:
    words = [WordTiming(word.text, word.start, word.end) for word in reference.words]
    return compare(user.samples, reference.samples, reference.sample_rate, words)


def _word(result: ComparisonResult, text: str) -> WordResult:
    return next(word for word in result.words if word.text == text)


@pytest.mark.parametrize("voice", [WOMAN, OTHER_MAN, BRITISH], ids=lambda voice: voice.name)
def test_the_same_text_in_another_voice_scores_clearly_higher_overall_than_a_different_text(
    voice: Voice,
) -> None:
    reference = synthesize(FOX, REFERENCE)

    same_text = _compare(synthesize(FOX, voice), reference)
    different_text = _compare(synthesize(SHELLS, voice), reference)

    assert same_text.scores.overall >= different_text.scores.overall + 30


@pytest.mark.parametrize("voice", [WOMAN, OTHER_MAN, BRITISH], ids=lambda voice: voice.name)
def test_the_same_text_in_another_voice_scores_clearly_higher_on_pronunciation_than_a_different_text(
    voice: Voice,
) -> None:
    reference = synthesize(FOX, REFERENCE)

    same_text = _compare(synthesize(FOX, voice), reference)
    different_text = _compare(synthesize(SHELLS, voice), reference)

    assert same_text.scores.pronunciation >= different_text.scores.pronunciation + 50


@pytest.mark.parametrize(
    "voice", [Voice("en-us", pitch_range=0), Voice("en-us+f3", pitch_range=0)], ids=["man", "woman"]
)
def test_a_monotone_rendition_scores_low_on_intonation(voice: Voice) -> None:
    result = _compare(synthesize(FOX, voice), synthesize(FOX, REFERENCE))

    assert result.scores.intonation is not None
    assert result.scores.intonation < 35


def test_a_monotone_rendition_scores_as_high_on_pronunciation_as_an_expressive_one() -> None:
    reference = synthesize(FOX, REFERENCE)

    monotone = _compare(synthesize(FOX, Voice("en-us+m3", pitch_range=0)), reference)
    expressive = _compare(synthesize(FOX, Voice("en-us+m3")), reference)

    assert monotone.scores.pronunciation >= expressive.scores.pronunciation - 5


def test_an_expressive_rendition_in_another_voice_scores_high_on_intonation() -> None:
    result = _compare(synthesize(FOX, WOMAN), synthesize(FOX, REFERENCE))

    assert result.scores.intonation is not None
    assert result.scores.intonation > 75


@pytest.mark.parametrize(
    ("said", "left_out"),
    [
        ("The quick fox jumps over the lazy dog, and then it sleeps.", "brown"),
        ("The quick brown fox jumps over the dog, and then it sleeps.", "lazy"),
        ("Please bring the yellow umbrella to the station morning.", "tomorrow"),
    ],
)
@pytest.mark.parametrize("voice", [REFERENCE, OTHER_MAN, WOMAN], ids=lambda voice: voice.name)
def test_an_omitted_word_is_flagged_omitted(said: str, left_out: str, voice: Voice) -> None:
    reference = synthesize(FOX if left_out != "tomorrow" else UMBRELLA, REFERENCE)

    result = _compare(synthesize(said, voice), reference)

    assert _word(result, left_out).status is WordStatus.OMITTED


@pytest.mark.parametrize(
    ("said", "replaced"),
    [
        ("The quick brown cat jumps over the lazy dog, and then it sleeps.", "fox"),
        ("Please bring the purple umbrella to the station tomorrow morning.", "yellow"),
        ("Please bring the yellow umbrella to the station tonight morning.", "tomorrow"),
    ],
)
@pytest.mark.parametrize("voice", [REFERENCE, OTHER_MAN, WOMAN], ids=lambda voice: voice.name)
def test_a_substituted_word_is_flagged_mispronounced(said: str, replaced: str, voice: Voice) -> None:
    reference = synthesize(FOX if replaced == "fox" else UMBRELLA, REFERENCE)

    result = _compare(synthesize(said, voice), reference)

    assert _word(result, replaced).status is WordStatus.MISPRONOUNCED


@pytest.mark.parametrize("voice", [OTHER_MAN, WOMAN], ids=lambda voice: voice.name)
def test_a_faithful_rendition_in_another_voice_flags_no_word(voice: Voice) -> None:
    result = _compare(synthesize(STELLA, voice), synthesize(STELLA, REFERENCE))

    assert [word.text for word in result.words if word.status is not WordStatus.OK] == []


def _boundary_errors(
    result: ComparisonResult, truth: tuple[SpokenWord, ...], shift: float = 0.0
) -> np.ndarray:
    assert [word.text for word in result.words] == [word.text for word in truth]
    mapped = np.array([[word.user_start, word.user_end] for word in result.words])
    expected = np.array([[word.start + shift, word.end + shift] for word in truth])
    errors: np.ndarray = np.abs(mapped - expected)
    return errors


@pytest.mark.parametrize(
    "voice",
    [Voice("en-us", rate=120), Voice("en-us", rate=220), WOMAN, Voice("en-us+m3", rate=190)],
    ids=["slower", "faster", "woman", "other-man"],
)
def test_mapped_word_boundaries_land_within_50_ms_of_the_spoken_ones(voice: Voice) -> None:
    user = synthesize(STELLA, voice)

    result = _compare(user, synthesize(STELLA, REFERENCE))

    assert _boundary_errors(result, user.words).max() < 0.050


def test_word_boundaries_are_on_the_clock_of_recordings_with_silence_and_noise_around_the_speech() -> None:
    user = synthesize(FOX, WOMAN)
    lead, tail = np.zeros(12_800), np.zeros(8_000)
    padded = np.concatenate([lead, user.samples, tail])
    padded = padded + np.random.default_rng(0).normal(scale=3e-4, size=padded.size)
    reference = synthesize(FOX, REFERENCE)
    words = [WordTiming(word.text, word.start + 0.3, word.end + 0.3) for word in reference.words]

    result = compare(padded, np.concatenate([np.zeros(4_800), reference.samples]), 16_000, words)

    assert _boundary_errors(result, user.words, shift=0.8).max() < 0.050
