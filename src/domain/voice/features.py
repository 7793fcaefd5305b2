"""Per-frame features of one utterance (MFCC, pitch, energy) and their plain-data form for storage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from domain.voice.config import FeatureConfig
from domain.voice.errors import NoSpeechError, TooShortError
from domain.voice.framing import Signal, frame_count, frames, power_db
from domain.voice.mfcc import cepstra, power_spectra
from domain.voice.pitch import semitones_from_median, yin_f0
from domain.voice.vad import find_speech

Vector = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class Features:
    """Frames every ``hop_seconds`` of the speech found in a recording.

    ``offset_seconds`` is where the speech starts in the source recording; frame ``i`` is centred at
    ``frame_time(i)`` on the recording's clock. Pitch is in semitones from ``median_f0_hz`` and NaN
    where unvoiced; energy is in dB relative to the loud frames. The arrays are made read-only.
    """

    version: str
    hop_seconds: float
    window_seconds: float
    offset_seconds: float
    mfcc: Matrix
    pitch_semitones: Vector
    energy_db: Vector
    median_f0_hz: float

    def __post_init__(self) -> None:
        frames_ = self.mfcc.shape[0]
        if (
            self.mfcc.ndim != 2
            or self.pitch_semitones.shape != (frames_,)
            or self.energy_db.shape != (frames_,)
        ):
            raise ValueError("mfcc must be (frames x coefficients); pitch and energy one value per frame")
        for array in (self.mfcc, self.pitch_semitones, self.energy_db):
            array.setflags(write=False)

    @property
    def frame_count(self) -> int:
        return int(self.mfcc.shape[0])

    @property
    def end_seconds(self) -> float:
        """Where the last frame ends on the recording's clock."""
        return self.offset_seconds + (self.frame_count - 1) * self.hop_seconds + self.window_seconds

    @property
    def voiced(self) -> npt.NDArray[np.bool_]:
        return np.isfinite(self.pitch_semitones)

    def pauses(self, floor_db: float, min_seconds: float) -> npt.NDArray[np.bool_]:
        """Frames in runs of at least ``min_seconds`` quieter than ``floor_db`` below the loud frames."""
        run = max(1, round(min_seconds / self.hop_seconds))
        quiet = self.energy_db <= -floor_db
        pauses: npt.NDArray[np.bool_] = ndimage.binary_opening(quiet, structure=np.ones(run, dtype=bool))
        return pauses

    def frame_time(self, frame: float) -> float:
        return self.offset_seconds + frame * self.hop_seconds + self.window_seconds / 2

    def frame_at(self, seconds: float) -> float:
        """The (fractional) frame index centred at ``seconds`` on the recording's clock."""
        return (seconds - self.offset_seconds - self.window_seconds / 2) / self.hop_seconds

    def between(self, start_seconds: float, end_seconds: float) -> Features:
        """The frames centred within ``[start_seconds, end_seconds)``, e.g. one word of a script."""
        first = max(0, int(np.ceil(self.frame_at(start_seconds))))
        stop = min(self.frame_count, max(first, int(np.ceil(self.frame_at(end_seconds)))))
        return Features(
            version=self.version,
            hop_seconds=self.hop_seconds,
            window_seconds=self.window_seconds,
            offset_seconds=self.offset_seconds + first * self.hop_seconds,
            mfcc=self.mfcc[first:stop],
            pitch_semitones=self.pitch_semitones[first:stop],
            energy_db=self.energy_db[first:stop],
            median_f0_hz=self.median_f0_hz,
        )

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: lists of rounded floats, ``None`` for unvoiced frames and an unknown median."""
        return {
            "version": self.version,
            "hop_seconds": self.hop_seconds,
            "window_seconds": self.window_seconds,
            "offset_seconds": self.offset_seconds,
            "median_f0_hz": None if np.isnan(self.median_f0_hz) else round(self.median_f0_hz, 3),
            "mfcc": np.round(self.mfcc, 4).tolist(),
            "pitch_semitones": [
                None if np.isnan(value) else round(float(value), 3) for value in self.pitch_semitones
            ],
            "energy_db": np.round(self.energy_db, 2).tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Features:
        """Rebuilds what ``to_dict`` produced; raises ValueError on anything else."""
        mfcc_rows = _sequence(data, "mfcc")
        median = data.get("median_f0_hz")
        return cls(
            version=str(_field(data, "version")),
            hop_seconds=_number(data, "hop_seconds"),
            window_seconds=_number(data, "window_seconds"),
            offset_seconds=_number(data, "offset_seconds"),
            mfcc=np.array(mfcc_rows, dtype=np.float64).reshape(len(mfcc_rows), -1),
            pitch_semitones=np.array(
                [np.nan if value is None else value for value in _sequence(data, "pitch_semitones")],
                dtype=np.float64,
            ),
            energy_db=np.array(_sequence(data, "energy_db"), dtype=np.float64),
            median_f0_hz=float("nan") if median is None else _number(data, "median_f0_hz"),
        )


def _field(data: Mapping[str, object], key: str) -> object:
    if key not in data:
        raise ValueError(f"{key} is missing")
    return data[key]


def _number(data: Mapping[str, object], key: str) -> float:
    value = _field(data, key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number")
    return float(value)


def _sequence(data: Mapping[str, object], key: str) -> Sequence[object]:
    value = _field(data, key)
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ValueError(f"{key} must be a list")
    return value


@dataclass(frozen=True, slots=True, eq=False)
class Utterance:
    """Features plus the power spectra they came from, so the MFCC can be recomputed under a warp."""

    features: Features
    spectra: Matrix


def extract_features(samples: Signal, config: FeatureConfig) -> Features:
    """Features of the speech in ``samples`` (mono, ``config.sample_rate``), without the silence around it.

    Raises NoSpeechError when the voice activity detector finds nothing, TooShortError when the speech
    lasts less than ``config.min_speech_seconds``.
    """
    return measure(samples, config).features


def measure(samples: Signal, config: FeatureConfig) -> Utterance:
    """``extract_features``, keeping the power spectra."""
    span = find_speech(samples, config)
    if span is None:
        raise NoSpeechError("no speech was found")
    if span.length < config.min_speech_seconds * config.sample_rate:
        seconds = span.length / config.sample_rate
        raise TooShortError(f"{seconds:.2f} s of speech is shorter than {config.min_speech_seconds} s")
    speech = samples[span.start : span.stop]
    total = frame_count(speech.size, config.window_samples, config.hop_samples)
    energy = power_db(np.mean(frames(speech, config.window_samples, config.hop_samples, total) ** 2, axis=1))
    relative_energy = energy - float(np.percentile(energy, config.loud_percentile))
    semitones, median = semitones_from_median(
        yin_f0(speech, total, relative_energy > -config.voiced_floor_db, config)
    )
    spectra = power_spectra(speech, total, config)
    features = Features(
        version=config.version,
        hop_seconds=config.hop_seconds,
        window_seconds=config.window_seconds,
        offset_seconds=span.start / config.sample_rate,
        mfcc=cepstra(spectra, config),
        pitch_semitones=semitones,
        energy_db=np.maximum(relative_energy, -config.energy_floor_db),
        median_f0_hz=median,
    )
    return Utterance(features, spectra)
