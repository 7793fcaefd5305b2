"""The duration of a canonical uncompressed WAV, read from its chunks without FFmpeg.

Decoding PCM is reinterpreting bytes as samples: every whole block of the ``data`` chunk is a valid
sample frame, so once the header is consistent, FFmpeg's decoder can only agree on how many there are.
Reading that from the header costs microseconds; opening the file with PyAV and walking its ~50 packets
cost about 0.4 ms, a tenth of the API's CPU under upload load (docs/performance.md, "Fifth round").

The reader vouches only for files whose layout leaves nothing to interpret: ``RIFF`` whose size is the
file's, ``WAVE``, one ``fmt `` chunk of plain PCM (format 1: 8, 16, 24 or 32 bits) or IEEE float (format
3: 32 or 64 bits) with consistent block and byte rates, then the ``data`` chunk, whole blocks, ending the
file. Anything else (other chunks, extensible formats, RF64, a truncated or padded file, odd rates)
returns None, and the caller decodes with FFmpeg as before, which stays the reference:
tests/integration/test_wav_header_reader.py holds this reader to FFmpeg's count on a grid of layouts and
on fuzzed headers.
"""

from __future__ import annotations

import struct

_RIFF_HEADER = struct.Struct("<4sI4s")
_CHUNK_HEADER = struct.Struct("<4sI")
_FMT = struct.Struct("<HHIIHH")  # format tag, channels, sample rate, byte rate, block align, bits per sample

_PCM = 1
_IEEE_FLOAT = 3
_SAMPLE_BITS = {_PCM: (8, 16, 24, 32), _IEEE_FLOAT: (32, 64)}
_MAX_CHANNELS = 8
_RATES = range(4_000, 384_001)  # what microphones and files in the wild use; others go to FFmpeg


def canonical_wav_seconds(data: bytes) -> float | None:
    """Seconds of audio in ``data`` when it is a canonical PCM or float WAV holding at least one sample
    frame; None when it is not one this reader vouches for (decode it to know)."""
    if len(data) < _RIFF_HEADER.size + 2 * _CHUNK_HEADER.size + _FMT.size:
        return None
    riff, riff_size, wave = _RIFF_HEADER.unpack_from(data)
    if riff != b"RIFF" or wave != b"WAVE" or riff_size != len(data) - 8:
        return None
    offset = _RIFF_HEADER.size
    chunk, size = _CHUNK_HEADER.unpack_from(data, offset)
    if chunk != b"fmt " or size not in (16, 18) or len(data) < offset + 8 + size + _CHUNK_HEADER.size:
        return None
    fields: tuple[int, int, int, int, int, int] = _FMT.unpack_from(data, offset + 8)
    tag, channels, rate, byte_rate, block_align, bits = fields
    if size == 18 and data[offset + 24 : offset + 26] != b"\x00\x00":  # cbSize: no extension follows
        return None
    if bits not in _SAMPLE_BITS.get(tag, ()) or not 1 <= channels <= _MAX_CHANNELS or rate not in _RATES:
        return None
    if block_align != channels * bits // 8 or byte_rate != rate * block_align:
        return None
    offset += _CHUNK_HEADER.size + size
    chunk, samples_size = _CHUNK_HEADER.unpack_from(data, offset)
    frames, partial = divmod(int(samples_size), block_align)
    if chunk != b"data" or frames == 0 or partial or offset + 8 + samples_size != len(data):
        return None
    return frames / rate
