import pytest

from domain.audio import AudioFormat, AudioLimits, sniff_audio_format


def _ebml_header(doctype: bytes) -> bytes:
    body = b"\x42\x86\x81\x01" + b"\x42\xf7\x81\x01" + b"\x42\x82" + bytes([0x80 | len(doctype)]) + doctype
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(body)]) + body + b"\x18\x53\x80\x67"


def _iso_box(box_type: bytes, major: bytes, *compatible: bytes) -> bytes:
    payload = major + b"\x00\x00\x02\x00" + b"".join(compatible)
    return (8 + len(payload)).to_bytes(4, "big") + box_type + payload + b"\x00\x00\x00\x08free"


def _ogg_first_page() -> bytes:
    return b"OggS\x00\x02" + bytes(8) + b"\x12\x34\x56\x78" + bytes(8) + b"\x01\x13" + b"OpusHead"


def _id3_tag(payload_size: int, version: int = 4) -> bytes:
    syncsafe = bytes((payload_size >> shift) & 0x7F for shift in (21, 14, 7, 0))
    return b"ID3" + bytes([version, 0, 0]) + syncsafe + bytes(payload_size)


MPEG1_LAYER3_FRAME = b"\xff\xfb\x90\x64" + bytes(12)
MPEG2_LAYER3_FRAME = b"\xff\xf3\x64\xc4" + bytes(12)
FLAC_HEAD = b"fLaC\x80\x00\x00\x22" + bytes(34)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        pytest.param(b"RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00", AudioFormat.WAV, id="riff-wave"),
        pytest.param(b"RF64\xff\xff\xff\xffWAVEds64", AudioFormat.WAV, id="rf64-wave"),
        pytest.param(_ebml_header(b"webm"), AudioFormat.WEBM, id="ebml-webm"),
        pytest.param(_ebml_header(b"matroska"), AudioFormat.WEBM, id="ebml-matroska"),
        pytest.param(_ogg_first_page(), AudioFormat.OGG, id="ogg"),
        pytest.param(_iso_box(b"ftyp", b"M4A ", b"M4A ", b"mp42", b"isom"), AudioFormat.MP4, id="m4a"),
        pytest.param(_iso_box(b"ftyp", b"mp42", b"isom"), AudioFormat.MP4, id="mp42"),
        pytest.param(_iso_box(b"ftyp", b"isom", b"iso6", b"mp41"), AudioFormat.MP4, id="isom"),
        pytest.param(_iso_box(b"ftyp", b"iso5", b"iso6", b"mp41"), AudioFormat.MP4, id="iso5-fragmented"),
        pytest.param(_iso_box(b"ftyp", b"dash", b"iso6"), AudioFormat.MP4, id="dash"),
        pytest.param(_iso_box(b"ftyp", b"qt  ", b"isom"), AudioFormat.MP4, id="mp4-compatible-brand"),
        pytest.param(_iso_box(b"styp", b"msdh", b"msdh", b"msix"), AudioFormat.MP4, id="styp-segment"),
        pytest.param(b"\x00\x00\x00\x68moof\x00\x00\x00\x10mfhd\x00\x00\x00\x00", AudioFormat.MP4, id="moof"),
        pytest.param(_iso_box(b"ftyp", b"3gp4", b"isom", b"3gp4"), AudioFormat.THREE_GP, id="3gp4"),
        pytest.param(_iso_box(b"ftyp", b"3gp5", b"3gp5"), AudioFormat.THREE_GP, id="3gp5"),
        pytest.param(_iso_box(b"ftyp", b"3g2a", b"3g2a"), AudioFormat.THREE_GP, id="3g2"),
        pytest.param(_id3_tag(32) + MPEG1_LAYER3_FRAME, AudioFormat.MP3, id="id3v2.4-then-frame"),
        pytest.param(_id3_tag(32, version=3) + MPEG1_LAYER3_FRAME, AudioFormat.MP3, id="id3v2.3-then-frame"),
        pytest.param(_id3_tag(4000)[:100], AudioFormat.MP3, id="id3-longer-than-head"),
        pytest.param(MPEG1_LAYER3_FRAME, AudioFormat.MP3, id="mpeg1-layer3-frame"),
        pytest.param(MPEG2_LAYER3_FRAME, AudioFormat.MP3, id="mpeg2-layer3-frame"),
        pytest.param(FLAC_HEAD, AudioFormat.FLAC, id="flac"),
        pytest.param(_id3_tag(16) + FLAC_HEAD, AudioFormat.FLAC, id="id3-in-front-of-flac"),
        pytest.param(b"#!AMR\n\x3c\x48\xf5\x1f", AudioFormat.AMR, id="amr-nb"),
        pytest.param(b"#!AMR-WB\n\x24\x50", AudioFormat.AMR, id="amr-wb"),
        pytest.param(b"caff\x00\x01\x00\x00desc\x00\x00\x00\x00\x00\x00\x00\x20", AudioFormat.CAF, id="caf"),
    ],
)
def test_sniff_recognises_the_format_from_its_leading_bytes(head: bytes, expected: AudioFormat) -> None:
    assert sniff_audio_format(head) is expected


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"Hello, this is a plain text file.\n", id="text"),
        pytest.param(b'{"audio": "RIFF....WAVE"}', id="json"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", id="png"),
        pytest.param(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", id="jpeg"),
        pytest.param(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", id="pdf"),
        pytest.param(b"PK\x03\x04\x14\x00\x00\x00\x08\x00", id="zip"),
        pytest.param(b"RIFF\x24\x08\x00\x00AVI LIST", id="riff-avi"),
        pytest.param(_iso_box(b"ftyp", b"avif", b"avif", b"mif1"), id="avif-image"),
        pytest.param(_iso_box(b"ftyp", b"heic", b"mif1", b"heic"), id="heic-image"),
        pytest.param(_ebml_header(b"notwebm"), id="ebml-other-doctype"),
        pytest.param(b"\xff\xf1\x50\x80\x02\x1f\xfc", id="adts-aac-reserved-layer"),
        pytest.param(b"\xff\xfb\xf0\x64", id="mpeg-frame-bad-bitrate"),
        pytest.param(b"\xff\xfb\x9c\x64", id="mpeg-frame-reserved-sample-rate"),
        pytest.param(b"\xff\xeb\x90\x64", id="mpeg-frame-reserved-version"),
        pytest.param(_id3_tag(16) + b"not an mpeg frame", id="id3-then-garbage"),
        pytest.param(b"ID3\x04\x00\x00\x00\x00\x00\x80", id="id3-size-not-syncsafe"),
        pytest.param(b"fLaC\x04\x00\x00\x22", id="flac-first-block-not-streaminfo"),
        pytest.param(b"OggS\x01\x02" + bytes(21), id="ogg-unknown-version"),
    ],
)
def test_sniff_rejects_what_is_not_supported_audio(head: bytes) -> None:
    assert sniff_audio_format(head) is None


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"RIFF\x24\x08\x00\x00WAV", id="wav"),
        pytest.param(b"\x1a\x45\xdf\xa3", id="ebml-magic-only"),
        pytest.param(_ebml_header(b"webm")[:14], id="ebml-cut-inside-doctype"),
        pytest.param(_ogg_first_page()[:20], id="ogg"),
        pytest.param(b"\x00\x00\x00\x1cftypM4A", id="ftyp-brand-cut"),
        pytest.param(b"\x00\x00\x00\x08ftyp", id="ftyp-box-too-small"),
        pytest.param(b"\x00\x00\x00\x68moof", id="moof-without-mfhd"),
        pytest.param(b"ID3\x04\x00", id="id3-header"),
        pytest.param(b"\xff\xfb\x90", id="mpeg-frame"),
        pytest.param(b"fLaC", id="flac-magic-only"),
        pytest.param(b"#!AMR", id="amr-without-newline"),
        pytest.param(b"caff\x00", id="caf"),
    ],
)
def test_sniff_rejects_truncated_headers(head: bytes) -> None:
    assert sniff_audio_format(head) is None


@pytest.mark.parametrize(
    ("max_bytes", "max_seconds", "min_seconds"),
    [
        pytest.param(0, 60.0, 0.3, id="no-bytes-allowed"),
        pytest.param(1_000, 1.0, 1.0, id="minimum-equals-maximum"),
        pytest.param(1_000, 60.0, -1.0, id="negative-minimum"),
    ],
)
def test_limits_that_no_recording_could_meet_are_refused(
    max_bytes: int, max_seconds: float, min_seconds: float
) -> None:
    with pytest.raises(ValueError, match=r"max_bytes|min_seconds"):
        AudioLimits(max_bytes=max_bytes, max_seconds=max_seconds, min_seconds=min_seconds)
