"""Issue 13 part 5's candidate: pocketsphinx (PyPI, its bundled US English model) aligning a recording to
its text, word by word and phone by phone, with a goodness-of-pronunciation (GOP) score per phone.

GOP of a phone = its acoustic log-likelihood under the forced alignment per frame, relative to the best
senone of each frame (pocketsphinx normalises every frame's senone scores so that the best is 0): the
frame-wise approximation of Witt and Young's GOP, whose denominator is the best free phone. It is 0 when
the expected phone is what the acoustic model hears best, more negative the further off. A word's GOP is
its lowest phone's. The evaluation compares
these word times and word GOPs with the DTW engine's on the same trials. Only ``make eval`` needs
pocketsphinx (installed for that run with ``uv run --with``); the product does not import this module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from domain.wording import normalise_word, words_of

SAMPLE_RATE = 16_000
FRAME_SECONDS = 0.01


@dataclass(frozen=True, slots=True)
class Phone:
    name: str
    start: float
    end: float
    gop: float


@dataclass(frozen=True, slots=True)
class AlignedWord:
    text: str
    start: float
    end: float
    phones: tuple[Phone, ...]

    @property
    def gop(self) -> float:
        """The lowest phone's GOP: a word is as good as its worst sound."""
        return min((phone.gop for phone in self.phones), default=0.0)

    @property
    def mean_gop(self) -> float:
        return float(np.mean([phone.gop for phone in self.phones])) if self.phones else 0.0


class UnalignableError(Exception):
    """The text has a word the pronouncing dictionary lacks, or the decoder found no alignment."""


class SphinxAligner:
    def __init__(self) -> None:
        from pocketsphinx import Decoder, get_model_path

        model = get_model_path()
        hmm = os.path.join(model, "en-us", "en-us")
        dictionary = os.path.join(model, "en-us", "cmudict-en-us.dict")
        quiet = {"logfn": os.devnull}
        self._aligner: Any = Decoder(
            hmm=hmm, dict=dictionary, lm=None, samprate=SAMPLE_RATE, bestpath=False, **quiet
        )

    def knows(self, text: str) -> bool:
        return all(self._aligner.lookup_word(_spoken(word)) is not None for word in words_of(text))

    def align(self, samples: np.ndarray, text: str) -> list[AlignedWord]:
        """Every word of ``text`` with its span and its phones' spans and GOP (seconds)."""
        words = [_spoken(word) for word in words_of(text)]
        if not words or not self.knows(text):
            raise UnalignableError(text)
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        decoder = self._aligner
        try:
            decoder.set_align_text(" ".join(words))
            _decode(decoder, pcm)
            decoder.set_alignment()
            _decode(decoder, pcm)
            alignment = decoder.get_alignment()
        except RuntimeError as error:
            raise UnalignableError(text) from error
        if alignment is None:
            raise UnalignableError(text)
        result = []
        for word in alignment.words():
            if word.name in {"<sil>", "<s>", "</s>", "[NOISE]"}:
                continue
            phones = []
            for phone in word:
                frames = max(phone.duration, 1)
                phones.append(
                    Phone(
                        phone.name,
                        phone.start * FRAME_SECONDS,
                        (phone.start + frames) * FRAME_SECONDS,
                        phone.score / frames,
                    )
                )
            result.append(
                AlignedWord(
                    word.name.split("(")[0],  # "a(2)": the dictionary's second pronunciation
                    word.start * FRAME_SECONDS,
                    (word.start + word.duration) * FRAME_SECONDS,
                    tuple(phones),
                )
            )
        if [word.text for word in result] != words:
            raise UnalignableError(text)
        return result


def _spoken(word: str) -> str:
    return normalise_word(word).replace("\u2019", "'")


def _decode(decoder: Any, pcm: bytes) -> None:
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()


@dataclass(frozen=True, slots=True)
class Trial:
    """One altered recording of a clip: the word ``target`` was cut out or replaced (None: nothing)."""

    samples: np.ndarray
    target: int


def word_flag_auc(badness: list[list[float]], targets: list[int]) -> float:
    """How well a per-word badness (higher: worse) picks the altered word out of each trial's words:
    ROC AUC of the altered words against every other word."""
    from bench.evaluation.metrics import roc_auc

    altered = [scores[target] for scores, target in zip(badness, targets, strict=True)]
    intact = [
        score
        for scores, target in zip(badness, targets, strict=True)
        for index, score in enumerate(scores)
        if index != target
    ]
    return roc_auc(altered, intact)
