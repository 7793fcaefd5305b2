"""The result document of a comparison, as the protocol's analysis.completed carries it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.unit.domain.voice.synthetic import RATE, phrase

from application.reference_analysis.outcomes import result_document
from domain.catalog import Word
from domain.voice import ComparisonResult, WordStatus, WordTiming, compare

WORDS = (Word(0, "one", 0.30, 0.92), Word(1, "two", 0.92, 1.54))
ASPECTS = {"pronunciation", "intonation", "rhythm", "energy", "completeness"}


@pytest.fixture(scope="module")
def comparison() -> ComparisonResult:
    timings = [WordTiming(word.text, word.start, word.end) for word in WORDS]
    return compare(phrase(seed=0, f0=180.0), phrase(seed=0), RATE, timings)


def test_the_scores_name_every_aspect(comparison: ComparisonResult) -> None:
    document = result_document(comparison, WORDS, 2.5, 2.5)

    assert set(document["scores"]) == ASPECTS  # type: ignore[arg-type]


def test_every_score_lies_between_0_and_100(comparison: ComparisonResult) -> None:
    document = result_document(comparison, WORDS, 2.5, 2.5)

    scores = [document["overall"], *document["scores"].values()]  # type: ignore[attr-defined]
    assert all(0 <= score <= 100 for score in scores)


def test_an_intonation_that_could_not_be_judged_is_left_out_of_the_scores(
    comparison: ComparisonResult,
) -> None:
    unjudged = replace(comparison, scores=replace(comparison.scores, intonation=None))

    document = result_document(unjudged, WORDS, 2.5, 2.5)

    assert "intonation" not in document["scores"]  # type: ignore[operator]


def test_an_omitted_word_has_no_times(comparison: ComparisonResult) -> None:
    omitted = replace(comparison.words[0], status=WordStatus.OMITTED)
    document = result_document(replace(comparison, words=(omitted, comparison.words[1])), WORDS, 2.5, 2.5)

    first = document["words"][0]  # type: ignore[index]
    assert (first["start"], first["end"]) == (None, None)


def test_the_words_keep_the_index_and_text_of_the_request(comparison: ComparisonResult) -> None:
    document = result_document(comparison, WORDS, 2.5, 2.5)

    assert [(w["index"], w["text"]) for w in document["words"]] == [(0, "one"), (1, "two")]  # type: ignore[attr-defined]


def test_the_contours_hold_the_reference_and_the_aligned_user_pitch(comparison: ComparisonResult) -> None:
    document = result_document(comparison, WORDS, 2.5, 2.5)

    pitch = document["contours"]["pitch"]  # type: ignore[index]
    assert len(pitch["times"]) == len(pitch["reference"]) == len(pitch["user"]) > 0
