"""The words of a text, as a line's or script's word list must spell them (one normalisation for all).

A word is a run of letters, digits and apostrophes; every other character (spaces, punctuation, hyphens,
dashes) separates words. Words compare case-insensitively with apostrophes dropped ("Don't" = "dont"),
and a number is one word with its grouping and decimal marks dropped ("1,000" = "1000", "3.5" = "35").
Numbers are not spelled out: a text written "7" needs the word "7", not "seven".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from domain.errors import InvalidInputError

_APOSTROPHES = "'\u2019\u02bc"
_WORD = re.compile(rf"\d+(?:[.,]\d+)*|[^\W_]+(?:[{_APOSTROPHES}][^\W_]+)*")


def normalise_word(word: str) -> str:
    """How a word compares: case folded, accents kept, apostrophes and number separators removed."""
    folded = unicodedata.normalize("NFC", word).casefold()
    return "".join(character for character in folded if character not in f"{_APOSTROPHES}.,")


def words_of(text: str) -> list[str]:
    """The words of ``text`` in order, as written (not normalised)."""
    return [word for word, _, _ in word_spans(text)]


def word_spans(text: str) -> list[tuple[str, int, int]]:
    """Each word of ``text`` (NFC-normalised) with the character offsets where it starts and stops."""
    return [
        (match.group(), match.start(), match.end())
        for match in _WORD.finditer(unicodedata.normalize("NFC", text))
    ]


@dataclass(frozen=True, slots=True)
class WordMismatch:
    """The first place a word list departs from its text: ``position`` in the list, what the text has
    there (None past its end) and what the list has (None past its end)."""

    position: int
    expected: str | None
    actual: str | None

    def describe(self) -> str:
        if self.actual is None:
            return f"the words end before the text does: word {self.position} should be {self.expected!r}"
        if self.expected is None:
            return f"the text has no word {self.position}: {self.actual!r} is one word too many"
        return f"word {self.position} is {self.actual!r} but the text has {self.expected!r} there"


def first_mismatch(text: str, words: Sequence[str]) -> WordMismatch | None:
    """None when ``words``, in order, are exactly the words of ``text`` under ``normalise_word``.

    Each entry of ``words`` must be one word: an entry holding two ("the road") is a mismatch.
    """
    expected = words_of(text)
    for position in range(max(len(expected), len(words))):
        wanted = expected[position] if position < len(expected) else None
        given = words[position] if position < len(words) else None
        if wanted is None or given is None or normalise_word(wanted) != normalise_word(given):
            return WordMismatch(position, wanted, given)
    return None


def check_words_cover_text(text: str, words: Sequence[str], field: str = "words") -> None:
    """Raises InvalidInputError naming ``{field}[position].text`` at the first mismatch."""
    mismatch = first_mismatch(text, words)
    if mismatch is not None:
        raise InvalidInputError(f"{field}[{mismatch.position}].text", mismatch.describe())
