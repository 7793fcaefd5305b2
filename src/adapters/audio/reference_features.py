"""Per-word reference features, computed by the same voice code the analysis server uses.

The voice code (numpy, scipy) is imported on first use: the API and the worker build this adapter at
start-up and read its configuration's version, but only an admin storing reference audio needs the
features, and importing scipy is most of a process's start-up time. ``domain.voice.config`` alone
imports none of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from adapters.audio.decoding import decode_audio
from domain.catalog import Word
from domain.errors import InvalidInputError

if TYPE_CHECKING:
    from domain.voice.config import FeatureConfig


class VoiceReferenceFeatures:
    def __init__(self, config: FeatureConfig | None = None) -> None:
        self._given_config = config

    @property
    def _config(self) -> FeatureConfig:
        if self._given_config is None:
            from domain.voice.config import FeatureConfig

            self._given_config = FeatureConfig()
        return self._given_config

    @property
    def version(self) -> str:
        return self._config.version

    def word_features(self, audio: bytes, words: Sequence[Word]) -> list[dict[str, Any]]:
        import numpy as np

        from domain.voice import VoiceAnalysisError, extract_features

        decoded = decode_audio(audio, target_rate=self._config.sample_rate)
        try:
            features = extract_features(decoded.samples.astype(np.float64), self._config)
        except VoiceAnalysisError as error:
            raise InvalidInputError("file", f"the reference audio has no usable speech: {error}") from error
        return [features.between(word.start, word.end).to_dict() for word in words]
