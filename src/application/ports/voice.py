"""Reference audio work: each script word's voice features, and word timings by forced alignment, computed
once when the audio arrives."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from domain.catalog import Word


class ReferenceFeatureExtractor(Protocol):
    @property
    def version(self) -> str:
        """The feature configuration's version; features of another version are not comparable."""
        ...

    def word_features(self, audio: bytes, words: Sequence[Word]) -> list[dict[str, Any]]:
        """One JSON-ready feature set per word, in order. Blocking and CPU-bound: run it in a thread.

        Raise ``domain.errors.InvalidInputError`` when the audio holds no usable speech.
        """
        ...


class ReferenceAligner(Protocol):
    def align(self, audio: bytes, text: str) -> list[Word]:
        """The words of ``text`` (domain.wording's words, every one, in order) timed on the recording
        ``audio`` by forced alignment: numbered 0..n-1, positive spans, none overlapping, all within the
        recording, no reference features. Blocking and CPU-bound: run it in a thread.

        Raise ``domain.errors.InvalidInputError`` when the audio holds no usable speech or is too short
        to hold the words.
        """
        ...
