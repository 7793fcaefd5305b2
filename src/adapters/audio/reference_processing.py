"""The reference audio's CPU work in a child process: forced alignment and per-word reference features.

The API process only sends bytes and receives plain values; the decoder, numpy, scipy and espeak-ng are
imported by the child (started on first use, by spawn), so they never load into the API process or hold
its event loop or threads for long. A crashed child is replaced on the next call.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Generic, TypeVar

from domain.catalog import Word
from domain.errors import InvalidInputError

T = TypeVar("T")


class ReferenceProcessingUnavailableError(RuntimeError):
    """The child processes cannot do the work: espeak-ng is not installed, or the pool died. An outage
    of this dependency (a 503 to retry), not a bug in the request."""


class ReferenceAudioProcessor:
    """ReferenceFeatureExtractor and ReferenceAligner, each call run by a pool of child processes."""

    def __init__(self, workers: int = 1) -> None:
        self._workers = workers
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._version: str | None = None

    @property
    def version(self) -> str:
        if self._version is None:
            self._version = self._run(_feature_version)
        return self._version

    def word_features(self, audio: bytes, words: Sequence[Word]) -> list[dict[str, Any]]:
        return self._run(_word_features, audio, list(words))

    def align(self, audio: bytes, text: str) -> list[Word]:
        return self._run(_align, audio, text)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, function: Callable[..., _Outcome[T]], *arguments: object) -> T:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self._workers, mp_context=multiprocessing.get_context("spawn")
                )
            pool = self._pool
        try:
            outcome = pool.submit(function, *arguments).result()
        except BrokenProcessPool as error:
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            raise ReferenceProcessingUnavailableError("the reference audio's child process died") from error
        return outcome.unwrap()


class _Outcome(Generic[T]):
    """A child's answer: the value, or the field and message of the InvalidInputError it raised (an
    exception whose constructor takes two arguments does not survive pickling whole), or why the child
    could not do the work at all (espeak-ng missing)."""

    def __init__(
        self, value: T | None = None, invalid: tuple[str, str] | None = None, unavailable: str | None = None
    ) -> None:
        self.value, self.invalid, self.unavailable = value, invalid, unavailable

    def unwrap(self) -> T:
        if self.invalid is not None:
            raise InvalidInputError(*self.invalid)
        if self.unavailable is not None:
            raise ReferenceProcessingUnavailableError(self.unavailable)
        return self.value  # type: ignore[return-value]


def _guarded(work: Callable[[], T]) -> _Outcome[T]:
    from adapters.audio.espeak import SpeechUnavailableError

    try:
        return _Outcome(work())
    except InvalidInputError as error:
        return _Outcome(invalid=(error.field, error.message))
    except SpeechUnavailableError as error:
        return _Outcome(unavailable=str(error))


def _feature_version() -> _Outcome[str]:
    from adapters.audio.reference_features import VoiceReferenceFeatures

    return _Outcome(VoiceReferenceFeatures().version)


def _word_features(audio: bytes, words: list[Word]) -> _Outcome[list[dict[str, Any]]]:
    from adapters.audio.reference_features import VoiceReferenceFeatures

    return _guarded(lambda: VoiceReferenceFeatures().word_features(audio, words))


def _align(audio: bytes, text: str) -> _Outcome[list[Word]]:
    from adapters.audio.forced_alignment import EspeakForcedAligner

    return _guarded(lambda: EspeakForcedAligner().align(audio, text))
