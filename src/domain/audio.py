"""Uploaded audio: the formats we accept, the limits on a recording and why a recording is rejected.

The format comes from the file's own bytes; a client's Content-Type or file name is never trusted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from domain.errors import DomainError


class AudioFormat(StrEnum):
    WAV = "wav"
    WEBM = "webm"
    OGG = "ogg"
    MP4 = "mp4"
    MP3 = "mp3"
    FLAC = "flac"
    AMR = "amr"
    THREE_GP = "3gp"
    CAF = "caf"

    @property
    def extension(self) -> str:
        """File extension for stored objects; MP4 audio is conventionally .m4a."""
        return "m4a" if self is AudioFormat.MP4 else self.value

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES[self]

    @property
    def file_extensions(self) -> tuple[str, ...]:
        """The names such files usually carry, for a file picker's hint; the bytes still decide."""
        return _FILE_EXTENSIONS.get(self, (self.extension,))


_CONTENT_TYPES = {
    AudioFormat.WAV: "audio/wav",
    AudioFormat.WEBM: "audio/webm",
    AudioFormat.OGG: "audio/ogg",
    AudioFormat.MP4: "audio/mp4",
    AudioFormat.MP3: "audio/mpeg",
    AudioFormat.FLAC: "audio/flac",
    AudioFormat.AMR: "audio/amr",
    AudioFormat.THREE_GP: "audio/3gpp",
    AudioFormat.CAF: "audio/x-caf",
}
_FILE_EXTENSIONS = {AudioFormat.OGG: ("ogg", "oga", "opus"), AudioFormat.MP4: ("m4a", "mp4")}


@dataclass(frozen=True, slots=True)
class AudioLimits:
    max_bytes: int
    max_seconds: float
    min_seconds: float = 0.3

    def __post_init__(self) -> None:
        if self.max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        if not 0 <= self.min_seconds < self.max_seconds:
            raise ValueError("need 0 <= min_seconds < max_seconds")


class AudioRejectedError(DomainError):
    """Base of every reason an uploaded recording is refused."""

    code = "audio-rejected"


class AudioTooLargeError(AudioRejectedError):
    code = "audio-too-large"

    def __init__(self, limit_bytes: int, actual_bytes: int) -> None:
        super().__init__(f"The recording is {actual_bytes} bytes; the limit is {limit_bytes} bytes")
        self.limit_bytes = limit_bytes
        self.actual_bytes = actual_bytes


class UnsupportedAudioFormatError(AudioRejectedError):
    code = "unsupported-audio-format"

    def __init__(self) -> None:
        supported = ", ".join(audio_format.value for audio_format in AudioFormat)
        super().__init__(f"The file is not audio in a supported format ({supported})")


class UndecodableAudioError(AudioRejectedError):
    code = "undecodable-audio"

    def __init__(self, reason: str) -> None:
        super().__init__(f"The recording could not be decoded: {reason}")
        self.reason = reason


class AudioTooLongError(AudioRejectedError):
    """``actual_seconds`` is a lower bound: decoding stops just past the limit, since a small file can
    expand to hours of audio."""

    code = "audio-too-long"

    def __init__(self, limit_seconds: float, actual_seconds: float) -> None:
        super().__init__(
            f"The recording lasts at least {actual_seconds:.2f} s; the limit is {limit_seconds:.2f} s"
        )
        self.limit_seconds = limit_seconds
        self.actual_seconds = actual_seconds


class AudioTooShortError(AudioRejectedError):
    code = "audio-too-short"

    def __init__(self, limit_seconds: float, actual_seconds: float) -> None:
        super().__init__(
            f"The recording lasts {actual_seconds:.2f} s; it must last at least {limit_seconds:.2f} s"
        )
        self.limit_seconds = limit_seconds
        self.actual_seconds = actual_seconds


def sniff_audio_format(head: bytes) -> AudioFormat | None:
    """Name the format the leading bytes of a file prove, or None when they prove none we accept.

    Only a bounded prefix is read (plus a few bytes after an ID3 tag), so passing a whole file is cheap.
    An MP3 whose ID3 tag runs past ``head`` is recognised by the tag alone.
    """
    for sniff in _SNIFFERS:
        found = sniff(head)
        if found is not None:
            return found
    return None


def is_plain_pcm_wav(head: bytes) -> bool:
    """Whether the file opens as a canonical RIFF/WAVE of uncompressed samples (its first chunk ``fmt ``
    with format code 1, PCM, or 3, IEEE float): samples that decode at memory speed, however many
    seconds they hold. A WAV holding a compressed codec, or with other chunks first, is not."""
    return (
        head[:4] == b"RIFF"
        and head[8:16] == b"WAVEfmt "
        and len(head) >= 22
        and int.from_bytes(head[20:22], "little") in (1, 3)
    )


def _sniff_wav(head: bytes) -> AudioFormat | None:
    # RF64 and BW64 are the >4 GiB variants of RIFF/WAVE that broadcast recorders write.
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return AudioFormat.WAV
    return None


def _sniff_ogg(head: bytes) -> AudioFormat | None:
    # A stream opens with a page whose version is 0 and whose header type marks the beginning of stream.
    beginning_of_stream = 0x02
    if len(head) >= 27 and head[:4] == b"OggS" and head[4] == 0 and head[5] & beginning_of_stream:
        return AudioFormat.OGG
    return None


def _sniff_flac(head: bytes) -> AudioFormat | None:
    # The first metadata block must be STREAMINFO (type 0, optionally flagged last), 34 bytes long.
    if head[:4] == b"fLaC" and len(head) >= 8 and head[4] & 0x7F == 0 and head[5:8] == b"\x00\x00\x22":
        return AudioFormat.FLAC
    return None


def _sniff_amr(head: bytes) -> AudioFormat | None:
    if head.startswith((b"#!AMR\n", b"#!AMR-WB\n")):
        return AudioFormat.AMR
    return None


def _sniff_caf(head: bytes) -> AudioFormat | None:
    if head[:8] == b"caff\x00\x01\x00\x00":
        return AudioFormat.CAF
    return None


# --- Matroska / WebM: an EBML header whose DocType element names the document type.

_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_DOCTYPE_ID = 0x4282
_EBML_DOCTYPES = (b"webm", b"matroska")
# Real EBML headers are about 40 bytes; the cap keeps a hostile header from making the scan long.
_EBML_HEADER_MAX_SCAN = 256


def _sniff_ebml(head: bytes) -> AudioFormat | None:
    if not head.startswith(_EBML_MAGIC):
        return None
    header_size = _read_vint(head, len(_EBML_MAGIC), keep_marker=False)
    if header_size is None:
        return None
    size, size_length = header_size
    start = len(_EBML_MAGIC) + size_length
    doctype = _find_ebml_child(head[start : start + min(size, _EBML_HEADER_MAX_SCAN)], _EBML_DOCTYPE_ID)
    if doctype is not None and doctype.rstrip(b"\x00") in _EBML_DOCTYPES:
        return AudioFormat.WEBM
    return None


def _find_ebml_child(body: bytes, wanted_id: int) -> bytes | None:
    position = 0
    while position < len(body):
        element_id = _read_vint(body, position, keep_marker=True)
        if element_id is None:
            return None
        position += element_id[1]
        element_size = _read_vint(body, position, keep_marker=False)
        if element_size is None:
            return None
        position += element_size[1]
        end = position + element_size[0]
        if element_id[0] == wanted_id:
            return body[position:end] if end <= len(body) else None
        position = end
    return None


def _read_vint(data: bytes, position: int, *, keep_marker: bool) -> tuple[int, int] | None:
    """Read an EBML variable-length integer: (value, length in bytes), or None if invalid or cut off.

    Element IDs keep their length marker bit; sizes drop it.
    """
    if position >= len(data) or data[position] == 0:
        return None
    length = 9 - data[position].bit_length()
    if position + length > len(data):
        return None
    value = int.from_bytes(data[position : position + length], "big")
    if not keep_marker:
        value &= (1 << (7 * length)) - 1
    return value, length


# --- ISO base media (MP4, M4A, 3GP): an ftyp (or, for a media segment, styp) box lists brands.

# Real ftyp boxes list a handful of brands; the cap keeps a hostile box size from making the scan long.
_ISO_TYPE_BOX_MAX_SCAN = 256
_MP4_BRANDS = frozenset(
    {
        b"M4A ",
        b"M4B ",
        b"mp41",
        b"mp42",
        b"isom",
        b"iso2",
        b"iso3",
        b"iso4",
        b"iso5",
        b"iso6",
        b"iso8",
        b"dash",
        b"msdh",
        b"msix",
    }
)


def _is_3gp_brand(brand: bytes) -> bool:
    return brand.startswith((b"3gp", b"3gg", b"3gs", b"3ge", b"3g2"))


def _sniff_iso_media(head: bytes) -> AudioFormat | None:
    box_type = head[4:8]
    if box_type == b"moof" and head[12:16] == b"mfhd":
        return AudioFormat.MP4
    if box_type not in (b"ftyp", b"styp"):
        return None
    box_size = int.from_bytes(head[:4], "big")
    if box_size < 16 or len(head) < 16:
        return None
    # Brands: the major brand at 8, the minor version at 12, then compatible brands to the box end.
    major = head[8:12]
    compatible = head[16 : min(box_size, _ISO_TYPE_BOX_MAX_SCAN)]
    brands = [major, *(compatible[i : i + 4] for i in range(0, len(compatible) - 3, 4))]
    for brand in brands:
        if _is_3gp_brand(brand):
            return AudioFormat.THREE_GP
        if brand in _MP4_BRANDS:
            return AudioFormat.MP4
    return None


# --- MP3: an ID3v2 tag or a bare MPEG audio frame header.

_ID3_HEADER_LENGTH = 10


def _sniff_mp3(head: bytes) -> AudioFormat | None:
    if not head.startswith(b"ID3"):
        return AudioFormat.MP3 if _is_mpeg_audio_frame(head) else None
    tag_size = _id3_tag_size(head)
    if tag_size is None:
        return None
    after_tag = head[tag_size : tag_size + 8]
    if len(after_tag) < 4:
        return AudioFormat.MP3
    # Some taggers put an ID3 tag in front of FLAC; the frames after the tag tell the truth.
    if after_tag.startswith(b"fLaC"):
        return _sniff_flac(after_tag)
    return AudioFormat.MP3 if _is_mpeg_audio_frame(after_tag) else None


def _id3_tag_size(head: bytes) -> int | None:
    if len(head) < _ID3_HEADER_LENGTH:
        return None
    version, revision, size_bytes = head[3], head[4], head[6:10]
    if version not in (2, 3, 4) or revision == 0xFF or any(byte & 0x80 for byte in size_bytes):
        return None
    syncsafe_size = 0
    for byte in size_bytes:
        syncsafe_size = (syncsafe_size << 7) | byte
    has_footer = version == 4 and bool(head[5] & 0x10)
    return _ID3_HEADER_LENGTH + syncsafe_size + (_ID3_HEADER_LENGTH if has_footer else 0)


def _is_mpeg_audio_frame(head: bytes) -> bool:
    if len(head) < 4:
        return False
    header = int.from_bytes(head[:4], "big")
    sync = header >> 21
    version = (header >> 19) & 0b11
    layer = (header >> 17) & 0b11
    bitrate_index = (header >> 12) & 0b1111
    sample_rate_index = (header >> 10) & 0b11
    # 0b01 is a reserved version, layer 0b00 is reserved (it is ADTS AAC's sync pattern), bitrate 0b1111
    # and sample rate 0b11 are invalid, and bitrate 0 ("free format") is too rare to admit.
    return (
        sync == 0x7FF
        and version != 0b01
        and layer != 0b00
        and bitrate_index not in (0b0000, 0b1111)
        and sample_rate_index != 0b11
    )


_SNIFFERS: tuple[Callable[[bytes], AudioFormat | None], ...] = (
    _sniff_wav,
    _sniff_ebml,
    _sniff_ogg,
    _sniff_iso_media,
    _sniff_flac,
    _sniff_amr,
    _sniff_caf,
    _sniff_mp3,
)
