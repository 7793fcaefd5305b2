"""Per-word reference features, computed by the same voice code the analysis server uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from adapters.audio.decoding import decode_audio
from domain.catalog import Word
from domain.errors import InvalidInputError
from domain.voice import FeatureConfig, VoiceAnalysisError, extract_features


class VoiceReferenceFeatures:
    def __init__(self, config: FeatureConfig | None = None) -> None:
        self._config = config or FeatureConfig()

    @property
    def version(self) -> str:
        return self._config.version

    def word_features(self, audio: bytes, words: Sequence[Word]) -> list[dict[str, Any]]:
        decoded = decode_audio(audio, target_rate=self._config.sample_rate)
        try:
            features = extract_features(decoded.samples.astype(np.float64), self._config)
        except VoiceAnalysisError as error:
            raise InvalidInputError("file", f"the reference audio has no usable speech: {error}") from error
        return [features.between(word.start, word.end).to_dict() for word in words]
