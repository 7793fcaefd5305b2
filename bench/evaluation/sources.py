"""Human speech with transcripts, fetched from Debian and PyPI into a cache on first use (nothing vendored).

- Debian ``asterisk-core-sounds-en-wav`` 1.6.1: 568 prompts by Allison Smith, 8 kHz telephone audio,
  CC-BY-SA-3.0; transcripts from ``asterisk-core-sounds-en`` (``core-sounds-en.txt``).
- PyPI ``praat-parselmouth`` 0.4.7 source distribution, ``docs/examples/audio/``: the digits one to
  five by two more speakers (files ``N_b``, ``N_y``), GPL-3.0-or-later.
"""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import tarfile
import urllib.request
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import signal

from domain.voice import FeatureConfig, VoiceAnalysisError, extract_features

SAMPLE_RATE = 16_000
ASTERISK_PACKAGES = ("asterisk-core-sounds-en-wav", "asterisk-core-sounds-en")
ASTERISK_SOUNDS = "usr/share/asterisk/sounds/en_US_f_Allison"
ASTERISK_TRANSCRIPTS = "usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"
PARSELMOUTH_URL = (
    "https://files.pythonhosted.org/packages/4f/28/2c1204fe3e7aeb6942051ff6776e31da52c7ab5b7df2ca438f371bd60d8a/"
    "praat_parselmouth-0.4.7.tar.gz"
)
PARSELMOUTH_SHA256 = "6dd81d246ce1eef5fd93d8cbdaf1bef61ca40ef1d2fc12aa23996a28071181e6"
PARSELMOUTH_AUDIO = "praat_parselmouth-0.4.7/docs/examples/audio/"
DIGITS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}

LICENCES = {
    "asterisk-core-sounds-en 1.6.1 (Debian)": "CC-BY-SA-3.0, recorded by Allison Smith",
    "praat-parselmouth 0.4.7 sdist (PyPI), docs/examples/audio": "GPL-3.0-or-later",
}

Samples = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class Clip:
    """One recording at 16 kHz: ``name`` is unique, ``speaker`` names who spoke ``text``, and
    ``bandwidth_hz`` is the highest frequency the original carried (half its sample rate)."""

    name: str
    speaker: str
    text: str
    samples: Samples
    bandwidth_hz: float

    @property
    def duration(self) -> float:
        return self.samples.size / SAMPLE_RATE


def asterisk_clips(cache: Path) -> list[Clip]:
    """Every English prompt that has a spoken transcript (not the bracketed tone descriptions) and
    lasts long enough for the engine to take it as a recording (see ``usable``)."""
    root = _debian_packages(cache)
    transcripts = _asterisk_transcripts(gzip.decompress((root / ASTERISK_TRANSCRIPTS).read_bytes()).decode())
    sounds = root / ASTERISK_SOUNDS
    clips = []
    for name, text in sorted(transcripts.items()):
        path = sounds / f"{name}.wav"
        if path.is_file() and usable(samples := read_wav(path)):
            clips.append(Clip(f"asterisk:{name}", "allison", text, samples, _bandwidth(path)))
    return clips


def usable(samples: Samples) -> bool:
    """Whether the comparison accepts the recording (a few prompts hold under its minimum of speech)."""
    try:
        extract_features(samples, FeatureConfig(sample_rate=SAMPLE_RATE))
    except VoiceAnalysisError:
        return False
    return True


def parselmouth_digits(cache: Path) -> list[Clip]:
    folder = _parselmouth_audio(cache)
    clips = []
    for digit, word in DIGITS.items():
        for speaker in ("b", "y"):
            path = folder / f"{digit}_{speaker}.wav"
            clips.append(
                Clip(f"parselmouth:{digit}_{speaker}", speaker, word, read_wav(path), _bandwidth(path))
            )
    return clips


def _asterisk_transcripts(listing: str) -> dict[str, str]:
    """``name: text`` lines; ``;`` starts a comment, and ``[...]`` and ``(...)`` texts describe tones and
    silences, not speech."""
    transcripts = {}
    for line in listing.splitlines():
        name, colon, text = line.partition(":")
        if line.startswith(";") or not colon or not text.strip() or text.strip()[0] in "[(":
            continue
        transcripts[name.strip()] = text.strip()
    return transcripts


def read_wav(path: Path) -> Samples:
    """A 16-bit PCM mono WAV file as float samples in [-1, 1) at 16 kHz."""
    with wave.open(str(path), "rb") as file:
        if file.getsampwidth() != 2 or file.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono PCM")
        rate = file.getframerate()
        samples = np.frombuffer(file.readframes(file.getnframes()), dtype="<i2").astype(np.float64) / 32768
    if rate == SAMPLE_RATE:
        return samples
    divisor = np.gcd(rate, SAMPLE_RATE)
    resampled: Samples = signal.resample_poly(samples, SAMPLE_RATE // divisor, rate // divisor)
    return resampled


def _bandwidth(path: Path) -> float:
    with wave.open(str(path), "rb") as file:
        return min(file.getframerate(), SAMPLE_RATE) / 2


def _debian_packages(cache: Path) -> Path:
    """The Asterisk packages unpacked under ``cache``, fetched with ``apt-get download`` once."""
    root = cache / "asterisk"
    if (root / ASTERISK_TRANSCRIPTS).is_file():
        return root
    downloads = cache / "debs"
    downloads.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *ASTERISK_PACKAGES], cwd=downloads, check=True)
    for package in downloads.glob("asterisk-core-sounds-en*.deb"):
        subprocess.run(["dpkg-deb", "-x", str(package), str(root)], check=True)
    return root


def _parselmouth_audio(cache: Path) -> Path:
    """The sdist's example audio under ``cache``, downloaded and checked against its hash once."""
    folder = cache / "parselmouth"
    if (folder / "5_y.wav").is_file():
        return folder
    archive = cache / "praat_parselmouth-0.4.7.tar.gz"
    if not archive.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(PARSELMOUTH_URL, timeout=120) as response:
            archive.write_bytes(response.read())
    if hashlib.sha256(archive.read_bytes()).hexdigest() != PARSELMOUTH_SHA256:
        archive.unlink()
        raise RuntimeError("praat-parselmouth sdist does not match its published hash; try again")
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as bundle:
        for member in bundle.getmembers():
            if member.name.startswith(PARSELMOUTH_AUDIO) and member.name.endswith(".wav"):
                extracted = bundle.extractfile(member)
                assert extracted is not None
                (folder / Path(member.name).name).write_bytes(extracted.read())
    return folder
