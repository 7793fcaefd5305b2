"""Test audio in every container a client may upload, made with the encoders bundled in the PyAV wheel.

The recipes mirror what real clients send: Chrome/Firefox MediaRecorder (Opus in WebM or Ogg), Safari
and iOS (AAC in MP4, fragmented when recorded live), Android (AMR-NB in 3GP), and plain files.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np
import numpy.typing as npt
from av.audio.stream import AudioStream
from av.codec.codec import UnknownCodecError


@dataclass(frozen=True, slots=True)
class _Recipe:
    muxer: str
    codec: str
    codec_rate: int | None = None
    bit_rate: int | None = None
    muxer_options: dict[str, str] = field(default_factory=dict)


_RECIPES: dict[str, _Recipe] = {
    "wav": _Recipe("wav", "pcm_s16le"),
    "webm": _Recipe("webm", "libopus", codec_rate=48_000),
    "ogg": _Recipe("ogg", "libopus", codec_rate=48_000),
    "m4a": _Recipe("ipod", "aac"),
    "fmp4": _Recipe("mp4", "aac", muxer_options={"movflags": "frag_keyframe+empty_moov"}),
    "mp3": _Recipe("mp3", "libmp3lame"),
    "flac": _Recipe("flac", "flac"),
    "3gp": _Recipe("3gp", "libopencore_amrnb", codec_rate=8_000, bit_rate=12_200),
    "amr": _Recipe("amr", "libopencore_amrnb", codec_rate=8_000, bit_rate=12_200),
    # Linear PCM, as iOS AVAudioRecorder writes by default. ALAC would be the other common choice, but
    # FFmpeg's CAF muxer/demuxer pair drops 768 samples of a short last ALAC packet.
    "caf": _Recipe("caf", "pcm_s16le"),
}

ENCODABLE_FORMATS = tuple(_RECIPES)


def missing_encoder(fmt: str) -> str | None:
    """Name the encoder ``fmt`` needs when the bundled FFmpeg lacks it (None when it is there)."""
    codec = _RECIPES[fmt].codec
    try:
        av.Codec(codec, "w")
    except UnknownCodecError:
        return codec
    return None


def encode_audio(samples: npt.NDArray[np.floating], sample_rate: int, fmt: str) -> bytes:
    """Encode mono float samples (-1..1) at ``sample_rate`` into the upload format ``fmt``.

    PyAV's encoder converts to the codec's sample format, rate and frame size on the way in.
    """
    recipe = _RECIPES[fmt]
    frame = av.AudioFrame.from_ndarray(
        np.clip(samples, -1.0, 1.0).astype(np.float32).reshape(1, -1), format="flt", layout="mono"
    )
    frame.sample_rate = sample_rate
    # A timestamped first frame lets the MP4 muxer write the edit list that hides AAC's priming samples.
    frame.pts = 0
    frame.time_base = Fraction(1, sample_rate)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=recipe.muxer, options=recipe.muxer_options) as container:
        stream = container.add_stream(recipe.codec, rate=recipe.codec_rate or sample_rate, layout="mono")
        assert isinstance(stream, AudioStream)
        if recipe.bit_rate is not None:
            stream.bit_rate = recipe.bit_rate
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def encode_video_only_webm(seconds: float = 1.0, fps: int = 10) -> bytes:
    """A WebM with one VP8 video track and no audio: a valid container that must still be refused."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=fps, width=64, height=48, pix_fmt="yuv420p")
        for index in range(round(seconds * fps)):
            image = np.full((48, 64, 3), index * 20 % 256, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()
