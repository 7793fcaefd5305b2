"""PyAV decoding and inspection of every upload container, on audio encoded with the same bundled FFmpeg."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numpy as np
import numpy.typing as npt
import pytest

from adapters.audio.decoding import PyAvAudioInspector, decode_audio, probe_duration
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
from tests.support.encoding import (
    ENCODABLE_FORMATS,
    encode_audio,
    encode_video_only_webm,
    missing_encoder,
)

SIGNAL_RATE = 48_000  # what browsers and phones record at
SIGNAL_SECONDS = 2.0
DECODE_RATE = 16_000
ONE_OUTPUT_SAMPLE = 1 / DECODE_RATE

SNIFFED_FORMAT = {
    "wav": AudioFormat.WAV,
    "webm": AudioFormat.WEBM,
    "ogg": AudioFormat.OGG,
    "m4a": AudioFormat.MP4,
    "fmp4": AudioFormat.MP4,
    "mp3": AudioFormat.MP3,
    "flac": AudioFormat.FLAC,
    "3gp": AudioFormat.THREE_GP,
    "amr": AudioFormat.AMR,
    "caf": AudioFormat.CAF,
}

# How much longer than the signal a decoding may come out, by codec. Never shorter than one output sample.
# - PCM (wav, caf) and FLAC store exact sample counts.
# - Opus: Ogg granule positions and WebM's CodecDelay/DiscardPadding trim the pre-skip and the padding.
# - MP3: the LAME/Info header records encoder delay and padding, which FFmpeg trims.
# - AAC in MP4: the edit list hides the 1024 priming samples, but FFmpeg keeps the padding of the last
#   1024-sample frame: < 1024 / 48 kHz = 21.3 ms.
# - AAC in fragmented MP4 (empty moov): no edit list, so priming and padding both stay:
#   < 2048 / 48 kHz = 42.7 ms.
# - AMR-NB (amr, 3gp): whole 20 ms frames, and the encoder emits at most one frame beyond the signal.
EXTRA_SECONDS_ALLOWED = {
    "wav": ONE_OUTPUT_SAMPLE,
    "caf": ONE_OUTPUT_SAMPLE,
    "flac": ONE_OUTPUT_SAMPLE,
    "webm": ONE_OUTPUT_SAMPLE,
    "ogg": ONE_OUTPUT_SAMPLE,
    "mp3": ONE_OUTPUT_SAMPLE,
    "m4a": 1024 / SIGNAL_RATE,
    "fmp4": 2048 / SIGNAL_RATE,
    "3gp": 0.020 + ONE_OUTPUT_SAMPLE,
    "amr": 0.020 + ONE_OUTPUT_SAMPLE,
}

FORMATS = [
    pytest.param(
        fmt,
        marks=pytest.mark.skipif(
            missing_encoder(fmt) is not None,
            reason=f"the FFmpeg bundled with PyAV has no {missing_encoder(fmt)} encoder",
        ),
    )
    for fmt in ENCODABLE_FORMATS
]

GENEROUS_LIMITS = AudioLimits(max_bytes=10_000_000, max_seconds=60.0, min_seconds=0.3)


def _chirp_with_noise(seconds: float = SIGNAL_SECONDS, rate: int = SIGNAL_RATE) -> npt.NDArray[np.float64]:
    t = np.arange(round(seconds * rate)) / rate
    chirp = 0.3 * np.sin(2 * np.pi * (200 * t + 150 * t**2))
    return chirp + 0.05 * np.random.default_rng(7).standard_normal(t.size)


@cache
def _upload(fmt: str) -> bytes:
    return encode_audio(_chirp_with_noise(), SIGNAL_RATE, fmt)


def _rms(samples: npt.NDArray[np.floating]) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


# --- every container


@pytest.mark.parametrize("fmt", FORMATS)
def test_sniffing_names_the_container_of_each_encoded_upload(fmt: str) -> None:
    assert sniff_audio_format(_upload(fmt)) is SNIFFED_FORMAT[fmt]


@pytest.mark.parametrize("fmt", FORMATS)
def test_decoding_restores_the_duration_up_to_the_codec_padding(fmt: str) -> None:
    extra = decode_audio(_upload(fmt)).duration_seconds - SIGNAL_SECONDS

    assert -ONE_OUTPUT_SAMPLE <= extra <= EXTRA_SECONDS_ALLOWED[fmt]


@pytest.mark.parametrize("fmt", FORMATS)
def test_decoding_gives_mono_float32_at_the_target_rate(fmt: str) -> None:
    decoded = decode_audio(_upload(fmt), target_rate=DECODE_RATE)

    assert (decoded.samples.dtype, decoded.samples.ndim) == (np.dtype(np.float32), 1)
    assert decoded.sample_rate == DECODE_RATE
    assert decoded.duration_seconds == decoded.samples.size / DECODE_RATE


@pytest.mark.parametrize("fmt", FORMATS)
def test_decoding_keeps_the_signal_level(fmt: str) -> None:
    decoded = decode_audio(_upload(fmt))

    assert _rms(decoded.samples) == pytest.approx(_rms(_chirp_with_noise()), rel=0.15)


@pytest.mark.parametrize("fmt", FORMATS)
def test_probed_duration_matches_the_decoded_duration(fmt: str) -> None:
    decoded = decode_audio(_upload(fmt))

    assert probe_duration(_upload(fmt)) == pytest.approx(decoded.duration_seconds, abs=ONE_OUTPUT_SAMPLE)


@pytest.mark.parametrize("fmt", FORMATS)
def test_inspector_accepts_each_upload_within_limits(fmt: str) -> None:
    inspected = PyAvAudioInspector().inspect(_upload(fmt), GENEROUS_LIMITS)

    assert inspected.format is SNIFFED_FORMAT[fmt]
    assert inspected.size == len(_upload(fmt))
    assert inspected.duration_seconds == pytest.approx(SIGNAL_SECONDS, abs=EXTRA_SECONDS_ALLOWED[fmt])


@pytest.mark.parametrize("fmt", FORMATS)
def test_inspector_refuses_an_upload_over_the_size_limit(fmt: str) -> None:
    size = len(_upload(fmt))
    limits = AudioLimits(max_bytes=size - 1, max_seconds=60.0)

    with pytest.raises(AudioTooLargeError) as refused:
        PyAvAudioInspector().inspect(_upload(fmt), limits)

    assert (refused.value.limit_bytes, refused.value.actual_bytes) == (size - 1, size)


@pytest.mark.parametrize("fmt", FORMATS)
def test_inspector_refuses_an_upload_over_the_duration_limit(fmt: str) -> None:
    limits = AudioLimits(max_bytes=10_000_000, max_seconds=1.5)

    with pytest.raises(AudioTooLongError) as refused:
        PyAvAudioInspector().inspect(_upload(fmt), limits)

    assert refused.value.limit_seconds == 1.5
    assert 1.5 < refused.value.actual_seconds <= SIGNAL_SECONDS


@pytest.mark.parametrize("fmt", FORMATS)
def test_inspector_refuses_an_upload_under_the_minimum_duration(fmt: str) -> None:
    limits = AudioLimits(max_bytes=10_000_000, max_seconds=60.0, min_seconds=2.5)

    with pytest.raises(AudioTooShortError) as refused:
        PyAvAudioInspector().inspect(_upload(fmt), limits)

    assert refused.value.limit_seconds == 2.5
    assert refused.value.actual_seconds == pytest.approx(SIGNAL_SECONDS, abs=EXTRA_SECONDS_ALLOWED[fmt])


# --- hostile input


def _wav_header_then_random_bytes() -> bytes:
    body = np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def _float_wav(samples: npt.NDArray[np.float32], rate: int = 16_000) -> bytes:
    ieee_float = 3
    fmt_chunk = struct.pack("<4sIHHIIHH", b"fmt ", 16, ieee_float, 1, rate, rate * 4, 4, 32)
    data = samples.astype("<f4").tobytes()
    data_chunk = b"data" + struct.pack("<I", len(data)) + data
    return (
        b"RIFF" + struct.pack("<I", 4 + len(fmt_chunk) + len(data_chunk)) + b"WAVE" + fmt_chunk + data_chunk
    )


def _with_caf_sample_rate(upload: bytes, rate: float) -> bytes:
    # The CAF header is 8 bytes, the desc chunk header 12; the sample rate is the big-endian double after.
    return upload[:20] + struct.pack(">d", rate) + upload[28:]


def _with_caf_frames_per_packet(upload: bytes, frames: int) -> bytes:
    # After the sample rate: format id, format flags, bytes per packet, then frames per packet.
    return upload[:40] + struct.pack(">I", frames) + upload[44:]


def _without_id3_tag(mp3: bytes) -> bytes:
    size = 0
    for byte in mp3[6:10]:
        size = (size << 7) | byte
    return mp3[10 + size :]


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"


HOSTILE_UPLOADS: dict[str, Callable[[], bytes]] = {
    "random-bytes-behind-a-wav-header": _wav_header_then_random_bytes,
    "png": lambda: PNG,
    "mp4-cut-in-half": lambda: _upload("m4a")[: len(_upload("m4a")) // 2],
    "mp4-cut-after-the-header": lambda: _upload("m4a")[:64],
    "webm-with-only-a-video-track": encode_video_only_webm,
    "wav-with-no-samples": lambda: _float_wav(np.empty(0, dtype=np.float32)),
    "empty": lambda: b"",
}


@pytest.mark.parametrize("name", HOSTILE_UPLOADS)
def test_decoding_hostile_input_raises_only_undecodable_audio(name: str) -> None:
    with pytest.raises(UndecodableAudioError):
        decode_audio(HOSTILE_UPLOADS[name]())


@pytest.mark.parametrize("name", HOSTILE_UPLOADS)
def test_probing_hostile_input_raises_only_undecodable_audio(name: str) -> None:
    with pytest.raises(UndecodableAudioError):
        probe_duration(HOSTILE_UPLOADS[name]())


def test_decoding_refuses_samples_that_are_not_numbers() -> None:
    with pytest.raises(UndecodableAudioError):
        decode_audio(_float_wav(np.full(16_000, np.nan, dtype=np.float32)))


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("png", UnsupportedAudioFormatError),
        ("empty", UnsupportedAudioFormatError),
        ("random-bytes-behind-a-wav-header", UndecodableAudioError),
        ("mp4-cut-in-half", UndecodableAudioError),
        ("webm-with-only-a-video-track", UndecodableAudioError),
    ],
)
def test_inspector_classifies_hostile_input(name: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        PyAvAudioInspector().inspect(HOSTILE_UPLOADS[name](), GENEROUS_LIMITS)


def test_inspector_checks_the_size_before_the_format() -> None:
    with pytest.raises(AudioTooLargeError):
        PyAvAudioInspector().inspect(PNG, AudioLimits(max_bytes=8, max_seconds=60.0))


def test_inspector_measures_what_a_small_file_expands_to_not_what_it_weighs() -> None:
    # 2 s of 48 kHz samples declared as 1 Hz: a 190 kB file that decodes to 96 000 s.
    bomb = _with_caf_sample_rate(_upload("caf"), 1.0)

    with pytest.raises(AudioTooLongError):
        PyAvAudioInspector().inspect(bomb, GENEROUS_LIMITS)


def test_decoding_stops_at_the_duration_limit() -> None:
    bomb = _with_caf_sample_rate(_upload("caf"), 1.0)

    with pytest.raises(AudioTooLongError):
        decode_audio(bomb, max_seconds=60.0)


def test_inspector_refuses_a_stream_cut_into_one_sample_packets() -> None:
    # Each 2-byte packet then claims millions of frames but decodes to one sample: 96 000 packets for 2 s.
    shredded = _with_caf_frames_per_packet(_upload("caf"), 0x0020_0001)

    with pytest.raises(UndecodableAudioError, match="implausibly small packets"):
        PyAvAudioInspector().inspect(shredded, GENEROUS_LIMITS)


def test_decoding_follows_a_sample_rate_change_mid_stream() -> None:
    # Two MP3s glued together, as a naive concatenation of recordings produces: 16 kHz then 48 kHz.
    first = encode_audio(_chirp_with_noise(1.0, 16_000), 16_000, "mp3")
    second = encode_audio(_chirp_with_noise(1.0, 48_000), 48_000, "mp3")

    decoded = decode_audio(first + _without_id3_tag(second))

    # Only the first file's gapless header is honoured; the second keeps its encoder delay and padding.
    assert decoded.duration_seconds == pytest.approx(2.0, abs=0.15)


# --- resources and threads


def _open_descriptors_and_threads() -> tuple[int, int]:
    return len(os.listdir("/proc/self/fd")), len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
def test_decoding_leaves_no_file_descriptor_or_thread_behind() -> None:
    uploads = [_upload(fmt) for fmt in ENCODABLE_FORMATS if missing_encoder(fmt) is None]
    hostile = [_wav_header_then_random_bytes(), encode_video_only_webm(), _upload("m4a")[:1000]]
    decode_audio(uploads[0])
    before = _open_descriptors_and_threads()

    for _ in range(5):
        for upload in uploads:
            decode_audio(upload)
            probe_duration(upload)
        for upload in hostile:
            with pytest.raises(UndecodableAudioError):
                decode_audio(upload)

    assert _open_descriptors_and_threads() == before


def test_decoding_from_many_threads_at_once_gives_the_sequential_results() -> None:
    uploads = [_upload(fmt) for fmt in ENCODABLE_FORMATS if missing_encoder(fmt) is None] * 4
    expected = [decode_audio(upload).samples for upload in uploads]

    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(lambda upload: decode_audio(upload).samples, uploads))

    assert all(np.array_equal(got, want) for got, want in zip(concurrent, expected, strict=True))
