"""How an analysis ends: the result document the API stores, or a failure code with a message for users."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from domain.catalog import Word
from domain.voice import ComparisonResult, VoiceAnalysisError, WordStatus

Subject = Literal["user", "reference"]


@dataclass(frozen=True, slots=True)
class Completed:
    result: dict[str, object]


@dataclass(frozen=True, slots=True)
class Failure:
    """``code`` is the protocol's failure code; ``message`` is shown to the user as it is."""

    code: str
    message: str


Outcome = Completed | Failure

REFERENCE_UNUSABLE = "reference_unusable"
_REFERENCE_MESSAGE = (
    "The reference audio of this line cannot be analysed, so your recording cannot be compared with it. "
    "Please try another line."
)
_USER_MESSAGES = {
    "no_speech": "No speech was found in your recording. Check your microphone and record the line again.",
    "too_short": "Your recording holds too little speech to compare. Record the whole line and try again.",
    "invalid_audio": "Your recording does not hold usable audio. Please record it again.",
}


def download_failed() -> Failure:
    return Failure("download_failed", "The recording could not be fetched for analysis. Please try again.")


def too_large(subject: Subject) -> Failure:
    if subject == "reference":
        return reference_unusable()
    return Failure("too_large", "Your recording is larger than the analysis accepts. Record a shorter take.")


def undecodable(subject: Subject) -> Failure:
    if subject == "reference":
        return reference_unusable()
    return Failure(
        "undecodable", "Your recording could not be decoded. Record it again or upload another file."
    )


def too_long(subject: Subject, limit_seconds: float) -> Failure:
    if subject == "reference":
        return reference_unusable()
    return Failure("too_long", f"Your recording is longer than {limit_seconds:.0f} s, the most we analyse.")


def voice_failure(error: VoiceAnalysisError) -> Failure:
    if error.subject == "reference":
        return reference_unusable()
    message = _USER_MESSAGES.get(error.reason, "Your recording could not be analysed. Please try again.")
    return Failure(error.reason, message)


def reference_unusable() -> Failure:
    return Failure(REFERENCE_UNUSABLE, _REFERENCE_MESSAGE)


def timed_out() -> Failure:
    return Failure("timed_out", "The analysis could not start before its deadline. Please try again.")


def unexpected() -> Failure:
    return Failure("analysis_failed", "The analysis failed unexpectedly. Please try again.")


def result_document(
    result: ComparisonResult,
    words: Sequence[Word],
    recording_seconds: float,
    reference_seconds: float,
) -> dict[str, object]:
    """The protocol's ``analysis.completed`` result: scores, per-word rows, metrics and pitch contours.

    ``intonation`` is left out of ``scores`` when the reference has too little voiced speech to judge
    it (``metrics.intonation_judged`` says so); every score the protocol carries is a number 0-100.
    """
    scores = result.scores
    aspects = {
        "pronunciation": scores.pronunciation,
        "intonation": scores.intonation,
        "rhythm": scores.rhythm,
        "energy": scores.energy,
        "completeness": scores.completeness,
    }
    return {
        "overall": _score(scores.overall),
        "scores": {name: _score(value) for name, value in aspects.items() if value is not None},
        "words": [
            {
                "index": word.index,
                "text": word.text,
                "score": _score(verdict.score),
                "status": verdict.status.value,
                "start": None if verdict.status is WordStatus.OMITTED else round(verdict.user_start, 3),
                "end": None if verdict.status is WordStatus.OMITTED else round(verdict.user_end, 3),
            }
            for word, verdict in zip(words, result.words, strict=True)
        ],
        "metrics": {
            "feature_version": result.feature_version,
            "intonation_judged": scores.intonation is not None,
            "alignment_cost": result.alignment_cost,
            "speaker_warp": result.speaker_warp,
            "recording_seconds": round(recording_seconds, 3),
            "reference_seconds": round(reference_seconds, 3),
            "user_speech": {"start": result.user_speech.start, "end": result.user_speech.end},
            "reference_speech": {"start": result.reference_speech.start, "end": result.reference_speech.end},
        },
        "contours": {
            "pitch": {
                "unit": "semitones from the speaker's median",
                "times": list(result.pitch.times),
                "reference": list(result.pitch.reference),
                "user": list(result.pitch.user),
            }
        },
    }


def _score(value: float) -> float:
    return round(min(100.0, max(0.0, value)), 1)
