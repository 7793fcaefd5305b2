"""The reference audio's child processes failing is a dependency outage (a 503), never a 500."""

from __future__ import annotations

import os

import pytest

from adapters.audio.espeak import SpeechUnavailableError
from adapters.audio.reference_processing import (
    ReferenceAudioProcessor,
    ReferenceProcessingUnavailableError,
    _guarded,
    _Outcome,
)
from adapters.outages import unavailable_dependency


def _without_espeak() -> str:
    raise SpeechUnavailableError("libespeak-ng is not installed: apt-get install espeak-ng")


def _dies() -> _Outcome[str]:
    os._exit(3)


def test_espeak_missing_in_the_child_is_an_outage_of_reference_processing() -> None:
    outcome = _guarded(_without_espeak)

    with pytest.raises(ReferenceProcessingUnavailableError, match="apt-get install espeak-ng") as raised:
        outcome.unwrap()
    assert unavailable_dependency(raised.value) == "reference audio processing"


def test_a_child_that_dies_is_an_outage_and_the_next_call_gets_a_new_pool() -> None:
    processor = ReferenceAudioProcessor()
    try:
        with pytest.raises(ReferenceProcessingUnavailableError) as raised:
            processor._run(_dies)
        assert unavailable_dependency(raised.value) == "reference audio processing"
        assert processor._pool is None
    finally:
        processor.close()


def test_other_errors_are_not_this_outage() -> None:
    assert unavailable_dependency(SpeechUnavailableError("raised outside the child")) is None
