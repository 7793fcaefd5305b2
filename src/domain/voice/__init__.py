"""Voice comparison: how closely a user's recording of a line matches the reference (pure numpy/scipy).

``compare`` is the entry point; ``extract_features`` computes the features stored beside script words.
"""

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
