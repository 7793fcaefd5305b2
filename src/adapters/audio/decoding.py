"""Decoding uploaded audio with PyAV (FFmpeg) from memory, and the inspector built on it.

Every entry point sniffs the bytes first and forces the matching FFmpeg demuxer, so hostile bytes
never reach the hundreds of other demuxers FFmpeg would otherwise probe (some follow playlists or
external references). Whatever FFmpeg or PyAV raises on bad input surfaces as UndecodableAudioError.

PyAV and numpy are imported on first use (``preload`` imports them ahead): the worker builds the
inspector without ever decoding, and importing them is a tenth of its start-up.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters.audio.wav import canonical_wav_seconds
from application.ports.audio import InspectedAudio
from domain.audio import (
    AudioFormat,
    AudioLimits,
    AudioTooLargeError,
    AudioTooLongError,
    AudioTooShortError,
    UndecodableAudioError,
    UnsupportedAudioFormatError,
    sniff_audio_format,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from av.audio.frame import AudioFrame
    from av.audio.resampler import AudioResampler
    from av.audio.stream import AudioStream
    from av.container import InputContainer

_DEMUXERS: dict[AudioFormat, str] = {
    AudioFormat.WAV: "wav",
    AudioFormat.WEBM: "matroska",
    AudioFormat.OGG: "ogg",
    AudioFormat.MP4: "mov",
    AudioFormat.THREE_GP: "mov",
    AudioFormat.MP3: "mp3",
    AudioFormat.FLAC: "flac",
    AudioFormat.AMR: "amr",
    AudioFormat.CAF: "caf",
}

# The demuxer is forced and every frame is decoded anyway, so FFmpeg's stream analysis on opening (it
# decodes ahead to guess codec parameters: ~11 ms of the ~13 ms an upload's check took, profiled under
# load, docs/performance.md) learns nothing the decoding loop does not; read only the header.
_OPEN_OPTIONS = {"probesize": "32", "analyzeduration": "0"}

# Every packet costs a few microseconds whatever it holds, so a header declaring one-sample packets
# would make a small file take seconds to read. The shortest real packets are Opus's 2.5 ms frames;
# the allowance covers packets that decode to nothing (headers, decoder delay, the final flush).
_MAX_PACKETS_PER_SECOND = 500
_PACKET_ALLOWANCE = 50


def preload() -> None:
    """Import PyAV and numpy now rather than at the first decoding (the API, before it forks)."""
    import av  # noqa: F401
    import numpy  # noqa: F401


@dataclass(frozen=True, slots=True)
class DecodedAudio:
    samples: npt.NDArray[np.float32]
    sample_rate: int
    duration_seconds: float


def decode_audio(data: bytes, target_rate: int = 16000, *, max_seconds: float = math.inf) -> DecodedAudio:
    """Decode to mono float32 at ``target_rate``, holding the whole signal in memory.

    Decoding stops with AudioTooLongError past ``max_seconds``: a file of a few kilobytes can declare a
    sample rate that makes it hours long.
    """
    if target_rate <= 0:
        raise ValueError("target_rate must be positive")
    resampler = _MonoResampler(target_rate)
    with _open_audio(data) as (container, stream):
        for frame, elapsed in _decoded_frames(container, stream):
            if elapsed > max_seconds:
                raise AudioTooLongError(max_seconds, elapsed)
            resampler.push(frame)
        samples = resampler.finish()
    import numpy as np

    if samples.size == 0:
        raise UndecodableAudioError("it contains no audio samples")
    if not np.isfinite(samples).all():
        raise UndecodableAudioError("it contains samples that are not numbers")
    return DecodedAudio(samples=samples, sample_rate=target_rate, duration_seconds=samples.size / target_rate)


def probe_duration(data: bytes, stop_after: float = math.inf) -> float:
    """Seconds of audio the file decodes to, counted without resampling or keeping samples.

    Container headers can claim any duration, so only decoding tells. Counting stops once past
    ``stop_after``, and the result is then only a lower bound.
    """
    elapsed = 0.0
    with _open_audio(data) as (container, stream):
        for _, elapsed in _decoded_frames(container, stream):
            if elapsed > stop_after:
                break
    if elapsed <= 0:
        raise UndecodableAudioError("it contains no audio samples")
    return elapsed


class PyAvAudioInspector:
    """Checks size, then format, then decodability, then duration; the first failure is raised.

    A canonical PCM or float WAV is measured from its header (``canonical_wav_seconds``: for such a file
    FFmpeg's decoding can only count the same sample frames); every other file is decoded with PyAV."""

    def inspect(self, data: bytes, limits: AudioLimits) -> InspectedAudio:
        if len(data) > limits.max_bytes:
            raise AudioTooLargeError(limits.max_bytes, len(data))
        audio_format = sniff_audio_format(data)
        if audio_format is None:
            raise UnsupportedAudioFormatError()
        seconds = canonical_wav_seconds(data) if audio_format is AudioFormat.WAV else None
        if seconds is None:
            seconds = probe_duration(data, stop_after=limits.max_seconds)
        if seconds > limits.max_seconds:
            raise AudioTooLongError(limits.max_seconds, seconds)
        if seconds < limits.min_seconds:
            raise AudioTooShortError(limits.min_seconds, seconds)
        return InspectedAudio(format=audio_format, duration_seconds=seconds, size=len(data))


@contextmanager
def _open_audio(data: bytes) -> Iterator[tuple[InputContainer, AudioStream]]:
    import av

    audio_format = sniff_audio_format(data)
    if audio_format is None:
        raise UndecodableAudioError("it is not audio in a supported format")
    try:
        with av.open(
            io.BytesIO(data),
            mode="r",
            format=_DEMUXERS[audio_format],
            container_options=_OPEN_OPTIONS,
            metadata_errors="ignore",
        ) as container:
            if not container.streams.audio:
                raise UndecodableAudioError("it has no audio stream")
            yield container, container.streams.audio[0]
    # InvalidDataError and friends derive from ValueError; PyAV also raises plain ValueError (and
    # UnicodeDecodeError, a ValueError) on inconsistent streams.
    except (av.FFmpegError, ValueError) as error:
        raise UndecodableAudioError(_describe(error)) from error


def _describe(error: Exception) -> str:
    import av

    if isinstance(error, av.FFmpegError) and error.strerror:
        return error.strerror
    return str(error)


def _decoded_frames(container: InputContainer, stream: AudioStream) -> Iterator[tuple[AudioFrame, float]]:
    """Each decoded frame with the seconds decoded up to its end."""
    elapsed = 0.0
    for count, packet in enumerate(container.demux(stream), start=1):
        for frame in packet.decode():
            if frame.sample_rate <= 0:
                raise UndecodableAudioError("a frame has no sample rate")
            elapsed += frame.samples / frame.sample_rate
            yield frame, elapsed
        if count > _PACKET_ALLOWANCE + _MAX_PACKETS_PER_SECOND * elapsed:
            raise UndecodableAudioError("it is cut into implausibly small packets")


class _MonoResampler:
    """Collects frames as mono float32 at one rate, starting a fresh PyAV resampler whenever the input's
    format, layout or rate changes mid-stream (MP3 files glued together do that): one refuses it."""

    def __init__(self, rate: int) -> None:
        self._rate = rate
        self._chunks: list[npt.NDArray[np.float32]] = []
        self._resampler: AudioResampler | None = None
        self._input_shape: tuple[str, str, int] | None = None

    def push(self, frame: AudioFrame) -> None:
        shape = (frame.format.name, frame.layout.name, frame.sample_rate)
        if shape != self._input_shape:
            import av

            self._drain()
            self._resampler = av.AudioResampler(format="flt", layout="mono", rate=self._rate)
            self._input_shape = shape
        self._collect(frame)

    def finish(self) -> npt.NDArray[np.float32]:
        import numpy as np

        self._drain()
        return np.concatenate(self._chunks) if self._chunks else np.empty(0, dtype=np.float32)

    def _drain(self) -> None:
        self._collect(None)
        self._resampler = None
        self._input_shape = None

    def _collect(self, frame: AudioFrame | None) -> None:
        if self._resampler is None:
            return
        import numpy as np

        for out in self._resampler.resample(frame):
            self._chunks.append(out.to_ndarray()[0].astype(np.float32, copy=False))
