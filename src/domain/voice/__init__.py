"""Voice comparison: how closely a user's recording of a line matches the reference (pure numpy/scipy).

``compare`` is the entry point; ``extract_features`` computes the features stored beside script words.

The names below are imported on first use (PEP 562): importing ``domain.voice.config`` for a feature
configuration's version (the API and worker do at start-up) must not import scipy, which the rest of
this package needs and which takes seconds to import (docs/performance.md, "Startup").
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from domain.voice.analysis import ComparisonSettings, Stage, StageListener, compare, compare_with_features
    from domain.voice.config import FeatureConfig
    from domain.voice.errors import (
        IncompatibleFeaturesError,
        InvalidSamplesError,
        NoSpeechError,
        TooShortError,
        VoiceAnalysisError,
    )
    from domain.voice.features import Features, extract_features
    from domain.voice.result import (
        ComparisonResult,
        PitchContour,
        Scores,
        Span,
        WordResult,
        WordStatus,
        WordTiming,
    )

__all__ = [
    "ComparisonResult",
    "ComparisonSettings",
    "FeatureConfig",
    "Features",
    "IncompatibleFeaturesError",
    "InvalidSamplesError",
    "NoSpeechError",
    "PitchContour",
    "Scores",
    "Span",
    "Stage",
    "StageListener",
    "TooShortError",
    "VoiceAnalysisError",
    "WordResult",
    "WordStatus",
    "WordTiming",
    "compare",
    "compare_with_features",
    "extract_features",
]


# Each public name and the module it comes from.
_SOURCES = {
    **dict.fromkeys(
        ("ComparisonSettings", "Stage", "StageListener", "compare", "compare_with_features"),
        "domain.voice.analysis",
    ),
    "FeatureConfig": "domain.voice.config",
    **dict.fromkeys(
        (
            "IncompatibleFeaturesError",
            "InvalidSamplesError",
            "NoSpeechError",
            "TooShortError",
            "VoiceAnalysisError",
        ),
        "domain.voice.errors",
    ),
    **dict.fromkeys(("Features", "extract_features"), "domain.voice.features"),
    **dict.fromkeys(
        ("ComparisonResult", "PitchContour", "Scores", "Span", "WordResult", "WordStatus", "WordTiming"),
        "domain.voice.result",
    ),
}


def __getattr__(name: str) -> Any:
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(source), name)
    globals()[name] = value
    return value
