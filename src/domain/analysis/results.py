"""What an analysis produces: scores, per-word results and contours to draw."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from domain.errors import InvalidInputError

SCORE_ASPECTS = ("pronunciation", "intonation", "rhythm", "energy", "completeness")


class WordStatus(StrEnum):
    OK = "ok"
    MISPRONOUNCED = "mispronounced"
    OMITTED = "omitted"


@dataclass(frozen=True, slots=True)
class WordResult:
    index: int
    text: str
    start: float | None
    end: float | None
    score: float
    status: WordStatus


@dataclass(frozen=True, slots=True)
class AnalysisResult:
    overall: float
    scores: dict[str, float]
    words: list[WordResult] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    contours: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_score("overall", self.overall)
        for aspect, value in self.scores.items():
            _check_score(f"scores.{aspect}", value)


def _check_score(name: str, value: float) -> None:
    if not 0.0 <= value <= 100.0:
        raise InvalidInputError(name, "scores lie between 0 and 100")
