"""The catalog's word rule: a word list spells exactly the words of its text."""

from __future__ import annotations

import pytest

from domain.errors import InvalidInputError
from domain.wording import WordMismatch, check_words_cover_text, first_mismatch, words_of


def test_words_are_runs_of_letters_digits_and_apostrophes() -> None:
    assert words_of("Don't stop -- it's 1,000 miles; call-forward... now!") == [
        "Don't", "stop", "it's", "1,000", "miles", "call", "forward", "now",
    ]  # fmt: skip


def test_case_punctuation_and_apostrophes_do_not_matter() -> None:
    assert first_mismatch("We don't, Sir.", ["we", "DONT", "sir"]) is None
    assert first_mismatch("It\u2019s here", ["it's", "here"]) is None


def test_numbers_match_without_their_separators_but_are_not_spelled_out() -> None:
    assert first_mismatch("Pay 1,000 now", ["pay", "1000", "now"]) is None
    assert first_mismatch("Press 7", ["press", "seven"]) == WordMismatch(1, "7", "seven")


def test_a_missing_word_is_named_at_its_position() -> None:
    words = ["Keep", "your", "eyes", "on", "road"]
    assert first_mismatch("Keep your eyes on the road", words) == WordMismatch(4, "the", "road")


def test_words_ending_early_or_running_over_are_mismatches() -> None:
    assert first_mismatch("one two", ["one"]) == WordMismatch(1, "two", None)
    assert first_mismatch("one", ["one", "two"]) == WordMismatch(1, None, "two")


def test_an_entry_holding_two_words_is_a_mismatch() -> None:
    assert first_mismatch("on the road", ["on", "the road"]) == WordMismatch(1, "the", "the road")


def test_the_rule_raises_an_invalid_input_naming_the_word() -> None:
    with pytest.raises(InvalidInputError) as raised:
        check_words_cover_text("We do not get", ["We", "do", "get"])
    assert raised.value.field == "words[2].text"
    assert raised.value.message == "word 2 is 'get' but the text has 'not' there"
