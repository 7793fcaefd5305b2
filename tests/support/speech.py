"""Real speech made offline with espeak-ng (adapters.audio.espeak), every rendition cached for the session."""

from __future__ import annotations

from functools import lru_cache

from adapters.audio import espeak
from adapters.audio.espeak import SAMPLE_RATE, Speech, SpeechUnavailableError, SpokenWord, Voice

__all__ = ["SAMPLE_RATE", "Speech", "SpeechUnavailableError", "SpokenWord", "Voice", "synthesize"]


_DEFAULT_VOICE = Voice()


@lru_cache(maxsize=256)
def synthesize(text: str, voice: Voice = _DEFAULT_VOICE) -> Speech:
    """``text`` spoken by ``voice`` at 16 kHz, with each word's start and end in seconds."""
    return espeak.synthesize(text, voice)
