"""Reference features: the voice features of each script word, computed once when the audio arrives."""

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
