"""What a comparison returns: frozen records of plain values, ready for JSON through ``to_dict``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum, StrEnum


@dataclass(frozen=True, slots=True)
class WordTiming:
    """A word of the reference and when it is spoken, in seconds on the reference recording's clock."""

    text: str
    start: float
    end: float

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"word {self.text!r} needs 0 <= start <= end, got {self.start}..{self.end}")


class WordStatus(StrEnum):
    OK = "ok"
    MISPRONOUNCED = "mispronounced"
    OMITTED = "omitted"


@dataclass(frozen=True, slots=True)
class WordResult:
    """A reference word, where the alignment puts it in the user's recording (seconds), and its verdict."""

    text: str
    reference_start: float
    reference_end: float
    user_start: float
    user_end: float
    score: float
    status: WordStatus


@dataclass(frozen=True, slots=True)
class Scores:
    """0-100 each; ``intonation`` is None when the reference has too little voiced speech to judge it."""

    overall: float
    pronunciation: float
    intonation: float | None
    rhythm: float
    energy: float
    completeness: float


@dataclass(frozen=True, slots=True)
class PitchContour:
    """Pitch in semitones from each speaker's median at ``times`` (seconds on the reference's clock).

    ``user`` is the user's pitch at the moments the alignment matches to those times; None where unvoiced.
    """

    times: tuple[float, ...]
    reference: tuple[float | None, ...]
    user: tuple[float | None, ...]


@dataclass(frozen=True, slots=True)
class Span:
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class ComparisonResult:
    feature_version: str
    scores: Scores
    words: tuple[WordResult, ...]
    pitch: PitchContour
    reference_speech: Span
    user_speech: Span
    speaker_warp: float
    alignment_cost: float

    def to_dict(self) -> dict[str, object]:
        """Nested dicts, lists and builtin scalars (word statuses as their string values)."""
        return asdict(self, dict_factory=_plain_dict)


def _plain_dict(items: list[tuple[str, object]]) -> dict[str, object]:
    return {key: value.value if isinstance(value, Enum) else value for key, value in items}
