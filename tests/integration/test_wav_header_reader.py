"""The WAV header reader against FFmpeg: whatever duration it vouches for, decoding with PyAV counts too.

FFmpeg stays the reference: the reader may decline any file (the inspector then decodes it), but a
duration it gives must be FFmpeg's, on every layout it accepts and on headers fuzzed around them.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.audio import decoding
from adapters.audio.decoding import PyAvAudioInspector, probe_duration
from adapters.audio.wav import canonical_wav_seconds
from domain.audio import AudioLimits, AudioTooLongError, AudioTooShortError, UndecodableAudioError

LIMITS = AudioLimits(max_bytes=10_000_000, max_seconds=60.0, min_seconds=0.3)
# (format tag, bits per sample) FFmpeg decodes as pcm_u8, pcm_s16le, pcm_s24le, pcm_s32le, pcm_f32le, pcm_f64le
SAMPLE_FORMATS = [(1, 8), (1, 16), (1, 24), (1, 32), (3, 32), (3, 64)]


def _wav(
    frames: int,
    *,
    tag: int = 1,
    bits: int = 16,
    channels: int = 1,
    rate: int = 16_000,
    fmt_extra: bytes = b"",
    before_data: bytes = b"",
    after_data: bytes = b"",
    data_bytes: bytes | None = None,
) -> bytes:
    block = channels * bits // 8
    rng = np.random.default_rng(frames + bits + channels)
    samples = (
        rng.integers(0, 256, frames * block, dtype=np.uint8).tobytes() if data_bytes is None else data_bytes
    )
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits) + fmt_extra
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + before_data
        + b"data"
        + struct.pack("<I", len(samples))
        + samples
        + after_data
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _ffmpeg_seconds(data: bytes) -> float | None:
    try:
        return probe_duration(data)
    except UndecodableAudioError:
        return None


@pytest.mark.parametrize(("tag", "bits"), SAMPLE_FORMATS)
@pytest.mark.parametrize("channels", [1, 2, 6])
@pytest.mark.parametrize(
    ("rate", "frames"), [(8_000, 1), (16_000, 4_961), (22_050, 110_250), (48_000, 48_000)]
)
def test_a_canonical_wav_is_read_from_its_header_as_ffmpeg_counts_it(
    tag: int, bits: int, channels: int, rate: int, frames: int
) -> None:
    data = _wav(frames, tag=tag, bits=bits, channels=channels, rate=rate)

    seconds = canonical_wav_seconds(data)

    assert seconds == frames / rate
    assert seconds == pytest.approx(probe_duration(data), abs=1e-9)


def test_an_empty_cb_size_in_the_format_chunk_is_canonical() -> None:
    data = _wav(16_000, fmt_extra=b"\x00\x00")

    assert canonical_wav_seconds(data) == 1.0 == pytest.approx(probe_duration(data), abs=1e-9)


_DECLINED = {
    "a LIST chunk before the samples": _wav(16_000, before_data=b"LIST" + struct.pack("<I", 4) + b"INFO"),
    "a chunk after the samples": _wav(16_000, after_data=b"LIST" + struct.pack("<I", 4) + b"INFO"),
    "a cut-off last sample frame": _wav(0, bits=16, channels=2, data_bytes=bytes(4 * 1000 + 2)),
    "an odd-sized data chunk with its pad byte": _wav(0, bits=8, data_bytes=bytes(16_001)) + b"\x00",
    "no samples": _wav(0),
    "a format extension (cbSize 22)": _wav(16_000, fmt_extra=b"\x16\x00" + bytes(22)),
    "WAVE_FORMAT_EXTENSIBLE": _wav(16_000, tag=0xFFFE),
    "A-law": _wav(16_000, tag=6, bits=8),
    "12-bit PCM": _wav(16_000, bits=12),
    "16-bit float": _wav(16_000, tag=3, bits=16),
    "nine channels": _wav(1_000, channels=9),
    "a 1 Hz sample rate": _wav(16_000, rate=1),
    "a 1 MHz sample rate": _wav(16_000, rate=1_000_000),
}


def _mutated(data: bytes, offset: int, value: bytes) -> bytes:
    return data[:offset] + value + data[offset + len(value) :]


_CANONICAL = _wav(16_000)
_DECLINED |= {
    "a RIFF size short of the file": _mutated(_CANONICAL, 4, struct.pack("<I", len(_CANONICAL) - 9)),
    "a RIFF size past the file (a truncated file)": _CANONICAL[:-100],
    "RF64": _mutated(_CANONICAL, 0, b"RF64"),
    "a block align that is not the frame size": _mutated(_CANONICAL, 32, struct.pack("<H", 4)),
    "a byte rate that is not rate x block": _mutated(_CANONICAL, 28, struct.pack("<I", 1)),
    "a data size past the file": _mutated(_CANONICAL, 40, struct.pack("<I", 0xFFFFFFFF)),
    "the samples before the format": b"RIFF"
    + struct.pack("<I", len(_CANONICAL) - 8)
    + b"WAVE"
    + _CANONICAL[36:]
    + _CANONICAL[12:36],
}


@pytest.mark.parametrize("name", sorted(_DECLINED))
def test_anything_but_a_canonical_layout_is_left_to_ffmpeg(name: str) -> None:
    assert canonical_wav_seconds(_DECLINED[name]) is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SAMPLE_FORMATS),
    st.integers(1, 3),
    st.lists(st.tuples(st.integers(0, 47), st.binary(min_size=1, max_size=4)), max_size=3),
    st.integers(0, 64),
)
def test_a_duration_the_reader_gives_for_a_fuzzed_header_is_ffmpegs(
    sample_format: tuple[int, int], channels: int, edits: list[tuple[int, bytes]], cut: int
) -> None:
    tag, bits = sample_format
    data = _wav(8_000, tag=tag, bits=bits, channels=channels)
    for offset, value in edits:
        data = _mutated(data, offset, value)[: len(data)]
    data = data[: len(data) - cut]

    seconds = canonical_wav_seconds(data)

    if seconds is not None:
        assert seconds == pytest.approx(_ffmpeg_seconds(data), abs=1e-9)


def test_the_inspector_measures_a_canonical_wav_without_decoding_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(data: bytes, stop_after: float = 0.0) -> float:
        raise AssertionError("decoded a WAV its header measures")

    monkeypatch.setattr(decoding, "probe_duration", no_decoding)

    inspected = PyAvAudioInspector().inspect(_wav(24_000), LIMITS)

    assert inspected.duration_seconds == 1.5
    with pytest.raises(AudioTooLongError):
        PyAvAudioInspector().inspect(_wav(16_000 * 61), LIMITS)
    with pytest.raises(AudioTooShortError):
        PyAvAudioInspector().inspect(_wav(4_000), LIMITS)


def test_the_inspector_decodes_a_wav_its_header_does_not_vouch_for() -> None:
    with_list = _DECLINED["a LIST chunk before the samples"]

    assert PyAvAudioInspector().inspect(with_list, LIMITS).duration_seconds == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(UndecodableAudioError):
        PyAvAudioInspector().inspect(_DECLINED["no samples"], LIMITS)
