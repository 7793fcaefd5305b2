"""Catalog: actors and the practice items: movie lines (public word: tokens) and scripts, with timed words."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from domain.errors import InvalidInputError

MIN_MOVIE_YEAR = 1878  # the first recorded motion picture
MAX_MOVIE_YEAR = 2100


class ReferenceKind(StrEnum):
    TOKEN = "token"
    SCRIPT = "script"


@dataclass(slots=True)
class Actor:
    id: UUID
    name: str
    bio: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a reference utterance with its time span (seconds) in the reference audio."""

    index: int
    text: str
    start: float
    end: float
    reference_features: Mapping[str, Any] | None = None


@dataclass(slots=True)
class ReferenceAudio:
    key: str
    content_type: str
    duration_seconds: float


@dataclass(slots=True)
class MovieLine:
    """What a token adds to its practice item: the actor who speaks the line and the movie."""

    kind: ClassVar[ReferenceKind] = ReferenceKind.TOKEN
    # Word timings of a line only mark the words; the line server analyses without reference features.
    has_word_features: ClassVar[bool] = False

    actor: Actor
    movie_title: str
    movie_year: int | None = None


@dataclass(slots=True)
class ScriptDetail:
    """What a script adds to its practice item: a title. Its words carry reference features."""

    kind: ClassVar[ReferenceKind] = ReferenceKind.SCRIPT
    has_word_features: ClassVar[bool] = True

    title: str


ItemDetail = MovieLine | ScriptDetail
DetailT = TypeVar("DetailT", MovieLine, ScriptDetail)


@dataclass(slots=True)
class PracticeItem:
    """Something to practise: a movie line (public word: token) or a script, with its reference."""

    id: UUID
    detail: ItemDetail
    text: str
    created_at: datetime
    words: list[Word] = field(default_factory=list)
    reference_audio: ReferenceAudio | None = None
    feature_config_version: str | None = None
    words_aligned: bool = False
    """Whether the word timings were computed by forced alignment to the reference audio (and so are
    computed again for a new recording) rather than given by an admin (kept as given)."""

    @property
    def kind(self) -> ReferenceKind:
        return self.detail.kind

    @property
    def takes_word_features(self) -> bool:
        """Whether its words get reference features from the reference audio (a script's do)."""
        return self.detail.has_word_features and bool(self.words)

    @property
    def reference_version(self) -> str | None:
        """A fingerprint of everything about the reference an analysis reads: the reference audio (a
        new upload gets a new key), the text and the word timings. None without reference audio."""
        if self.reference_audio is None:
            return None
        timings = [(word.index, word.text, word.start, word.end) for word in self.words]
        return reference_version(self.reference_audio.key, self.text, timings)

    def detail_as(self, detail_type: type[DetailT]) -> DetailT:
        """The detail, for code that serves one kind only (a token's actor, a script's title)."""
        if not isinstance(self.detail, detail_type):
            raise TypeError(f"{self.kind.value} {self.id} has no {detail_type.__name__}")
        return self.detail


def reference_version(
    reference_audio_key: str, text: str, word_timings: Iterable[tuple[int, str, float, float]]
) -> str:
    """`PracticeItem.reference_version` from what it reads (the word timings as (index, text, start,
    end) in index order), for a reader that has these columns rather than the item."""
    words = [[index, word, start, end] for index, word, start, end in word_timings]
    canonical = json.dumps([reference_audio_key, text, words], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def require_text(field_name: str, value: str, max_length: int) -> str:
    cleaned = value.strip()
    if not cleaned:
        raise InvalidInputError(field_name, "must not be blank")
    if len(cleaned) > max_length:
        raise InvalidInputError(field_name, f"must be at most {max_length} characters long")
    return cleaned


def check_movie_year(year: int | None) -> None:
    if year is not None and not MIN_MOVIE_YEAR <= year <= MAX_MOVIE_YEAR:
        raise InvalidInputError("movie_year", f"must be between {MIN_MOVIE_YEAR} and {MAX_MOVIE_YEAR}")


def check_word_timings(words: Sequence[Word]) -> None:
    """Words are numbered 0..n-1 in order, each span is positive, and spans do not overlap."""
    previous_end = 0.0
    for position, word in enumerate(words):
        where = f"words[{position}]"
        if word.index != position:
            raise InvalidInputError(f"{where}.index", f"must be {position}: words are numbered in order")
        if not word.text.strip():
            raise InvalidInputError(f"{where}.text", "must not be blank")
        if word.start < 0 or word.end <= word.start:
            raise InvalidInputError(f"{where}.end", "must be after start, and start must not be negative")
        if word.start < previous_end - 1e-6:
            raise InvalidInputError(f"{where}.start", "overlaps the previous word")
        previous_end = word.end
