"""Speech synthesised offline by the espeak-ng library, with every word of the text timed from its word events.

The forced aligner (adapters.audio.forced_alignment) says a reference's text with it and carries the word
times onto the reference recording; the tests and the evaluation use it as speech with known word times.
Needs the Debian package ``espeak-ng`` (its ``libespeak-ng.so.1``). Audio is 16 kHz mono float32, as the
decoder hands it to the analysis.

Each rendition is synthesised in a child process running this file: the library carries state from one
utterance to the next, so within one process the same text and voice come out slightly differently
depending on what was spoken before. The child needs only ctypes, hence numpy and scipy load lazily.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import json
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

SAMPLE_RATE = 16_000

_LIBRARY_NAMES = ("libespeak-ng.so.1", "libespeak-ng.so")
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_PARAMETER_RATE = 1
_PARAMETER_PITCH = 3
_PARAMETER_RANGE = 4


class SpeechUnavailableError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Voice:
    """An espeak-ng voice, words per minute, base pitch and pitch range (0-100; 0 speaks in a monotone).

    ``name`` is a voice (``en``, ``en-us``, with a variant: ``en-us+f3``) or a language (``en-gb``).
    """

    name: str = "en-us"
    rate: int = 160
    pitch: int = 50
    pitch_range: int = 50


@dataclass(frozen=True, slots=True)
class SpokenWord:
    text: str
    start: float
    end: float


@dataclass(frozen=True, slots=True, eq=False)
class Speech:
    samples: npt.NDArray[np.float32]
    sample_rate: int
    words: tuple[SpokenWord, ...]

    @property
    def duration(self) -> float:
        return self.samples.size / self.sample_rate

    def word_timings(self) -> list[dict[str, Any]]:
        """The words as the catalog takes them: index, text, start and end (ms precision)."""
        return [
            {"index": index, "text": word.text, "start": round(word.start, 3), "end": round(word.end, 3)}
            for index, word in enumerate(self.words)
        ]


def synthesize(text: str, voice: Voice = Voice()) -> Speech:
    """``text`` spoken by ``voice``, at 16 kHz, with each word's start and end in seconds.

    A word runs from its word event to the next word event or pause, whichever comes first.
    """
    import numpy as np
    from scipy import signal

    request = json.dumps({"text": text, "voice": dataclasses.asdict(voice)})
    # Our own interpreter running this file; the request goes through stdin (a script outgrows an argument).
    done = subprocess.run(  # noqa: S603
        [sys.executable, __file__], input=request.encode(), capture_output=True, check=False, timeout=120
    )
    if done.returncode != 0:
        raise SpeechUnavailableError(done.stderr.decode(errors="replace").strip())
    header, _, audio = done.stdout.partition(b"\n")
    details = json.loads(header)
    rate = int(details["sample_rate"])
    marks = [_Mark(**mark) for mark in details["marks"]]
    wave = np.frombuffer(audio, dtype=np.int16).astype(np.float64) / 32768.0
    samples = signal.resample_poly(wave, SAMPLE_RATE, rate).astype(np.float32)
    samples.setflags(write=False)
    return Speech(samples, SAMPLE_RATE, _words(text, marks, rate, wave.size))


@dataclass(frozen=True, slots=True)
class _Mark:
    kind: str  # "word" or "pause"
    sample: int
    text_position: int = 0
    length: int = 0


def _words(text: str, marks: list[_Mark], rate: int, total: int) -> tuple[SpokenWord, ...]:
    """Every word of the text (domain.wording's words), none dropped.

    espeak-ng merges some unstressed words into a neighbour's word event ("do not", "on the"): a word
    with no event of its own shares the span of the event word before it (the one after when it comes
    first), split in proportion to the words' lengths.
    """
    from domain.wording import word_spans

    spans = [(word, len(text[:start].encode()) + 1) for word, start, _ in word_spans(text)]
    timed: dict[int, tuple[float, float]] = {}
    for index, mark in enumerate(marks):
        if mark.kind != "word":
            continue
        end = next((later.sample for later in marks[index + 1 :] if later.sample > mark.sample), total)
        stop = mark.text_position + mark.length
        owner = next((i for i, (_, at) in enumerate(spans) if mark.text_position <= at < stop), None)
        if owner is not None and owner not in timed:
            timed[owner] = (mark.sample / rate, end / rate)
    if not timed:
        return ()
    groups: dict[int, list[int]] = {owner: [owner] for owner in timed}
    owners = sorted(timed)
    for position in range(len(spans)):
        if position not in timed:
            before = [owner for owner in owners if owner < position]
            groups[before[-1] if before else owners[0]].append(position)
    words: dict[int, SpokenWord] = {}
    for owner, members in groups.items():
        begin, finish = timed[owner]
        members.sort()
        lengths = [len(spans[member][0]) + 1 for member in members]
        edge = begin
        for member, length in zip(members, lengths, strict=True):
            step = (finish - begin) * length / sum(lengths)
            words[member] = SpokenWord(spans[member][0], edge, edge + step)
            edge += step
    return tuple(words[position] for position in sorted(words))


class _EventId(ctypes.Union):
    _fields_ = (("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8))


class _Event(ctypes.Structure):
    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    )


class _VoiceProperties(ctypes.Structure):
    _fields_ = (
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    )


_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


class _Espeak:
    """The espeak-ng library, loaded in the child process for one utterance."""

    def __init__(self) -> None:
        self._library = self._load()
        self._chunks: list[bytes] = []
        self._marks: list[_Mark] = []
        self._callback = _Callback(self._receive)  # kept referenced: the library calls it later
        library = self._library
        library.espeak_Initialize.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
        library.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
        library.espeak_SetVoiceByProperties.argtypes = (ctypes.POINTER(_VoiceProperties),)
        library.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
        library.espeak_Synth.argtypes = (
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
            ctypes.c_void_p, ctypes.c_void_p,
        )  # fmt: skip
        self.sample_rate = int(
            library.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INITIALIZE_PHONEME_EVENTS)
        )
        if self.sample_rate <= 0:
            raise SpeechUnavailableError("espeak-ng failed to initialise (is espeak-ng-data installed?)")
        library.espeak_SetSynthCallback(self._callback)

    @staticmethod
    def _load() -> ctypes.CDLL:
        for name in filter(None, [*_LIBRARY_NAMES, ctypes.util.find_library("espeak-ng")]):
            try:
                return ctypes.CDLL(name)
            except OSError:
                continue
        raise SpeechUnavailableError("libespeak-ng is not installed: apt-get install espeak-ng")

    def _receive(
        self, wave: ctypes._Pointer[ctypes.c_short], count: int, events: ctypes._Pointer[_Event]
    ) -> int:
        if count > 0:
            self._chunks.append(ctypes.string_at(wave, count * ctypes.sizeof(ctypes.c_short)))
        index = 0
        while (event := events[index]).type != _EVENT_LIST_TERMINATED:
            if event.type == _EVENT_WORD and event.length > 0:
                self._marks.append(_Mark("word", event.sample, event.text_position, event.length))
            elif event.type == _EVENT_PHONEME and bytes(event.id.string).startswith(b"_"):
                self._marks.append(_Mark("pause", event.sample))
            index += 1
        return 0

    def _select(self, name: str) -> None:
        """By voice name or file (``en``, ``en-us+f3``, ``gmw/en-US``) or else by language (``en-gb``)."""
        if self._library.espeak_SetVoiceByName(name.encode()) == 0:
            return
        properties = _VoiceProperties(languages=name.encode())
        if self._library.espeak_SetVoiceByProperties(ctypes.byref(properties)) != 0:
            raise SpeechUnavailableError(f"espeak-ng has no voice {name!r}")

    def speak(self, text: str, voice: Voice) -> tuple[bytes, list[_Mark]]:
        """Native-endian int16 samples at ``sample_rate`` and the word and pause marks."""
        self._select(voice.name)
        for parameter, value in (
            (_PARAMETER_RATE, voice.rate),
            (_PARAMETER_PITCH, voice.pitch),
            (_PARAMETER_RANGE, voice.pitch_range),
        ):
            self._library.espeak_SetParameter(parameter, value, 0)
        encoded = text.encode()
        status = self._library.espeak_Synth(
            encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
        )
        self._library.espeak_Synchronize()
        if status != 0:
            raise SpeechUnavailableError(f"espeak-ng failed to synthesise {text!r} (error {status})")
        return b"".join(self._chunks), list(self._marks)


def _speak_to_stdout(request: str) -> None:
    """One synthesis: a JSON line (sample rate, word and pause marks), then the int16 samples."""
    details = json.loads(request)
    engine = _Espeak()
    wave, marks = engine.speak(details["text"], Voice(**details["voice"]))
    header = {"sample_rate": engine.sample_rate, "marks": [dataclasses.asdict(mark) for mark in marks]}
    sys.stdout.buffer.write(json.dumps(header).encode() + b"\n" + wave)


if __name__ == "__main__":
    _speak_to_stdout(sys.stdin.buffer.read().decode())
