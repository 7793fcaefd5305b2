"""Why a voice comparison cannot produce a result; ``reason`` is the analysis protocol's failure reason."""

from __future__ import annotations

import copy
from typing import Literal, Self

from domain.errors import DomainError

Subject = Literal["user", "reference"]


class VoiceAnalysisError(DomainError):
    code = "voice-analysis-failed"
    reason = "analysis_failed"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.subject: Subject | None = None

    def about(self, subject: Subject) -> Self:
        """The same failure, naming which recording it concerns."""
        named = copy.copy(self)
        named.subject = subject
        named.message = f"{subject} recording: {self.detail}"
        named.args = (named.message,)
        return named


class NoSpeechError(VoiceAnalysisError):
    code = "no-speech"
    reason = "no_speech"


class TooShortError(VoiceAnalysisError):
    code = "too-short"
    reason = "too_short"


class InvalidSamplesError(VoiceAnalysisError):
    code = "invalid-samples"
    reason = "invalid_audio"


class IncompatibleFeaturesError(VoiceAnalysisError):
    """Features were computed under another feature version (or by other code) and cannot be compared."""

    code = "incompatible-features"
    reason = "incompatible_features"

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"features of version {actual!r} cannot be compared with version {expected!r}")
        self.expected = expected
        self.actual = actual
