"""The versioned parameters of voice feature extraction; features made under another version never mix."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from domain.voice.errors import IncompatibleFeaturesError

# Bump when the feature code changes in a way the parameters below do not show.
ALGORITHM_REVISION = 1


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """How recordings become frames of MFCC, pitch and energy.

    Levels named ``*_db`` are relative to the utterance's loud frames (its ``loud_percentile``), so the
    same speech recorded louder or quieter yields the same features.
    """

    sample_rate: int = 16_000
    window_seconds: float = 0.025
    hop_seconds: float = 0.010
    fft_size: int = 512
    pre_emphasis: float = 0.97
    n_mels: int = 40
    n_mfcc: int = 13
    mel_low_hz: float = 60.0
    mel_high_hz: float = 7_600.0
    loud_percentile: float = 95.0
    mel_floor_db: float = 45.0
    energy_floor_db: float = 60.0
    pitch_sample_rate: int = 8_000
    pitch_min_hz: float = 60.0
    pitch_max_hz: float = 500.0
    yin_threshold: float = 0.2
    pitch_outlier_semitones: float = 6.0
    voiced_floor_db: float = 30.0
    vad_floor_db: float = 40.0
    vad_noise_margin_db: float = 10.0
    vad_absolute_floor_dbfs: float = -55.0
    vad_min_run_seconds: float = 0.05
    vad_padding_seconds: float = 0.05
    min_speech_seconds: float = 0.25

    def __post_init__(self) -> None:
        if self.sample_rate <= 0 or self.hop_seconds <= 0 or self.window_seconds < self.hop_seconds:
            raise ValueError("need a positive sample rate and 0 < hop_seconds <= window_seconds")
        if self.fft_size < self.window_samples:
            raise ValueError("fft_size must hold a whole window")
        if not 0 < self.n_mfcc <= self.n_mels:
            raise ValueError("need 0 < n_mfcc <= n_mels")
        if not 0 < self.mel_low_hz < self.mel_high_hz <= self.sample_rate / 2:
            raise ValueError("need 0 < mel_low_hz < mel_high_hz <= sample_rate / 2")
        if self.sample_rate % self.pitch_sample_rate or self.hop_samples % (
            self.sample_rate // self.pitch_sample_rate
        ):
            raise ValueError("pitch_sample_rate must divide sample_rate, and the hop in samples by the ratio")
        if not 0 < self.pitch_min_hz < self.pitch_max_hz < self.pitch_sample_rate / 2:
            raise ValueError("need 0 < pitch_min_hz < pitch_max_hz < pitch_sample_rate / 2")

    @property
    def window_samples(self) -> int:
        return round(self.window_seconds * self.sample_rate)

    @property
    def hop_samples(self) -> int:
        return round(self.hop_seconds * self.sample_rate)

    @property
    def version(self) -> str:
        """Names the algorithm revision and every parameter, so any change makes a new version."""
        parameters = json.dumps(asdict(self), sort_keys=True).encode()
        return f"voice-features/{ALGORITHM_REVISION}+{hashlib.sha256(parameters).hexdigest()[:12]}"

    def require_compatible(self, version: str) -> None:
        if version != self.version:
            raise IncompatibleFeaturesError(expected=self.version, actual=version)
